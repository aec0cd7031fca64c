package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/cortex-db/cortex/sqlitedb"
)

// versionInfo is what `cortex version` prints: the module's version (from
// the build information Go records: a tag for `go install …@vX`, a
// pseudo-version or "(devel)" for a build in a checkout, with its VCS
// revision), the SQLite compiled in, and the build settings that matter.
type versionInfo struct {
	Version   string            `json:"version"`
	Module    string            `json:"module"`
	GoVersion string            `json:"go_version"`
	Platform  string            `json:"platform"`
	SQLite    string            `json:"sqlite"`
	Settings  map[string]string `json:"build_settings,omitempty"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		SQLite: sqlitedb.LibVersion(), Settings: map[string]string{}}
	if v.SQLite == "" {
		v.SQLite = "none (built without cgo: PostgreSQL only)"
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Module = bi.Main.Path
	if v.Version == "dev" && bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "CGO_ENABLED", "-race", "-tags", "-ldflags", "vcs.revision", "vcs.time", "vcs.modified", "GOAMD64", "GOARM64":
			v.Settings[s.Key] = s.Value
		}
	}
	return v
}

// runVersion prints the version; --json prints versionInfo.
func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version [--json]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	v := buildVersion()
	if *asJSON {
		return writeJSON(stdout, v)
	}
	fmt.Fprintf(stdout, "cortex %s\n", v.Version)
	rows := [][2]string{{"module", v.Module}, {"go", v.GoVersion}, {"platform", v.Platform}, {"sqlite", v.SQLite}}
	for _, k := range slices.Sorted(maps.Keys(v.Settings)) {
		rows = append(rows, [2]string{strings.TrimPrefix(k, "-"), v.Settings[k]})
	}
	return table(stdout, rows)
}
