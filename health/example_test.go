package health_test

import (
	"fmt"

	"github.com/cortex-db/cortex/health"
)

// A report's verdict is its worst check's.
func ExampleReport() {
	r := health.NewReport()
	r.Add(health.Check{Name: "reader", Status: health.Healthy})
	r.Add(health.Check{Name: "disk", Status: health.Degraded, Detail: "120 MiB free, under 256 MiB", Hint: "free space on the database's volume"})
	fmt.Println(r.Status)
	// Output: degraded
}
