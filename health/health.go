// Package health is the one vocabulary of cortex's health reports: a
// Status (healthy, degraded, unhealthy), the named Checks behind it, and
// the Report that holds both. sqlitedb, both stores (sqlitestore, pgstore),
// the HTTP API (/v1/admin/health, /readyz) and the CLI (`cortex health`)
// all speak it.
//
// It is a package of its own, importing nothing, because its two lowest
// users may not import each other: sqlitedb is production SQLite for any Go
// program and knows nothing of cortex's sessions (so it cannot import
// state), and state is the domain that pgstore builds on without SQLite
// (so it cannot import sqlitedb). Both import this leaf instead.
package health

// Status is a health verdict. The zero value is not a verdict; a Report
// starts Healthy.
type Status string

// Verdicts, from best to worst. A server answers /readyz with 200 for the
// first two and 503 for Unhealthy.
const (
	Healthy   Status = "healthy"
	Degraded  Status = "degraded"
	Unhealthy Status = "unhealthy"
)

// Worse returns the worse of a and b; an unknown status counts as
// Unhealthy.
func Worse(a, b Status) Status {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func rank(s Status) int {
	switch s {
	case Healthy:
		return 0
	case Degraded:
		return 1
	}
	return 2
}

// Check is one named check: its verdict, what it found (Detail), and, when
// it is not healthy and something can be done, what to do (Hint, a
// sentence for a person without a "Try:" prefix; the faces render it).
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
	Hint   string `json:"hint,omitempty"`
}

// Report is a verdict and the checks behind it: the verdict is the worst
// of the checks'. Engines embed it in their own reports, beside the
// figures their checks read. Its zero value has no verdict: start from
// NewReport.
type Report struct {
	Status Status  `json:"status"`
	Checks []Check `json:"checks"`
}

// NewReport returns an empty Healthy report.
func NewReport() Report { return Report{Status: Healthy} }

// Add appends c and makes the verdict the worse of the two. Not safe for
// concurrent use.
func (r *Report) Add(c Check) {
	r.Checks = append(r.Checks, c)
	r.Status = Worse(r.Status, c.Status)
}
