package sqlitedb

import (
	"fmt"
	"strconv"
	"strings"
)

// unsafeVersion reports whether SQLite version v has the WAL-reset bug: a
// race between a checkpoint and a writer restarting the WAL that can corrupt
// the database, in 3.7.0 through 3.51.2, fixed in 3.51.3 and backported to
// 3.50.7 and 3.44.6. https://sqlite.org/wal.html#walresetbug
func unsafeVersion(v string) (bool, string) {
	maj, min, patch, ok := parseVersion(v)
	if !ok {
		return false, ""
	}
	n := maj*1_000_000 + min*1_000 + patch
	switch {
	case n < 3_007_000 || n >= 3_051_003:
		return false, ""
	case min == 50 && patch >= 7, min == 44 && patch >= 6:
		return false, ""
	}
	return true, fmt.Sprintf("WAL-reset bug affects 3.7.0 to 3.51.2; %s has no backported fix", v)
}

func parseVersion(v string) (maj, min, patch int, ok bool) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return 0, 0, 0, false
	}
	nums := make([]int, 3)
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return 0, 0, 0, false
		}
		nums[i] = n
	}
	return nums[0], nums[1], nums[2], true
}
