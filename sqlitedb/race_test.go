//go:build race

package sqlitedb

// raceBuild: the race detector slows the replay's Go code ~10×; the
// power-loss suite tries fewer crash points under it (scripts/test runs
// every package with -race; `go test -run PowerLoss ./sqlitedb` runs the
// full short suite).
const raceBuild = true
