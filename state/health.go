package state

// HealthStatus is a health verdict, the one vocabulary of every engine's
// health report and of /readyz: "healthy", "degraded" or "unhealthy".
// (sqlitedb, which imports nothing of cortex, has its own Status with the
// same three values.)
type HealthStatus string

// Health verdicts, from best to worst.
const (
	Healthy   HealthStatus = "healthy"
	Degraded  HealthStatus = "degraded"
	Unhealthy HealthStatus = "unhealthy"
)

// Worse returns the worse of a and b.
func Worse(a, b HealthStatus) HealthStatus {
	rank := func(s HealthStatus) int {
		switch s {
		case Healthy:
			return 0
		case Degraded:
			return 1
		}
		return 2
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
