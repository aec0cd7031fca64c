package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/internal/e2e"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md from the flag definitions")

// configurationDoc is the page's path from this package.
var configurationDoc = filepath.Join("..", "..", "docs", "configuration.md")

// TestDocs_Configuration: docs/configuration.md is what the flag
// definitions generate, and every flag `cortex <cmd> -h` prints is on it
// with the same default. Regenerate with:
//
//	go run ./cmd/cortex docs-flags > docs/configuration.md
//
// (or go test ./cmd/cortex -run TestDocs_Configuration -update).
func TestDocs_Configuration(t *testing.T) {
	withEnv(t, nil)
	var want bytes.Buffer
	if err := writeConfigurationDoc(&want); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(configurationDoc, want.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(configurationDoc)
	if err != nil {
		t.Fatal(err)
	}
	page := string(got)
	// Each flag of each command's -h, with the default -h shows, is a row
	// of that command's table.
	flagLine := regexp.MustCompile(`^  --([a-z0-9-]+)`)
	defaultOf := regexp.MustCompile(`\(default (.*?)\)(?: \[\$[A-Z_]+\])?$`)
	for _, cmd := range docCommands {
		start := strings.Index(page, "\n## cortex "+cmd+"\n")
		if start < 0 {
			t.Errorf("docs/configuration.md has no section for cortex %s", cmd)
			continue
		}
		section := page[start+1:]
		if end := strings.Index(section, "\n## "); end >= 0 {
			section = section[:end]
		}
		lines := strings.Split(helpOf(t, cmd), "\n")
		for i, l := range lines {
			m := flagLine.FindStringSubmatch(l)
			if m == nil || i+1 >= len(lines) {
				continue
			}
			name := m[1]
			rowStart := strings.Index(section, "| `--"+name+"` |")
			if rowStart < 0 {
				t.Errorf("cortex %s --%s is not in docs/configuration.md", cmd, name)
				continue
			}
			row := strings.Split(section[rowStart:strings.Index(section[rowStart:], "\n")+rowStart], " | ")
			def := strings.Trim(row[2], "` ")
			if d := defaultOf.FindStringSubmatch(lines[i+1]); d != nil {
				if def != d[1] {
					t.Errorf("cortex %s --%s: default %q in -h, %q in docs/configuration.md", cmd, name, d[1], def)
				}
			} else if !slices.Contains([]string{"", "false", "0", "0s"}, def) {
				t.Errorf("cortex %s --%s: no default in -h, %q in docs/configuration.md", cmd, name, def)
			}
		}
	}
	if page != want.String() {
		t.Errorf("docs/configuration.md is stale; regenerate it: go run ./cmd/cortex docs-flags > docs/configuration.md")
	}
}

// Every command of `cortex help` is documented on the page.
func TestDocs_EveryCommand(t *testing.T) {
	_, cmds, _ := strings.Cut(usage, "Commands:\n")
	cmds, _, _ = strings.Cut(cmds, "\n\n")
	for _, l := range strings.Split(cmds, "\n") {
		if f := strings.Fields(l); len(f) > 0 && !slices.Contains(docCommands, f[0]) {
			t.Errorf("command %s is not in docCommands (docsflags.go): docs/configuration.md leaves it out", f[0])
		}
	}
}

// TestDocs_GrafanaDashboard: every metric docs/grafana-dashboard.json
// queries is one a real `cortex serve` exposes on /metrics.
func TestDocs_GrafanaDashboard(t *testing.T) {
	dash, err := os.ReadFile(filepath.Join("..", "..", "docs", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := e2e.StartServer(t, filepath.Join(t.TempDir(), "c.db"))
	e2e.MustDo(t, "PUT", s.Base+"/v1/sessions/g", `{}`, 201)
	e2e.MustDo(t, "POST", s.Base+"/v1/sessions/g/snapshots", `{"state":1}`, 201)
	exposed := map[string]bool{}
	for _, l := range strings.Split(string(e2e.MustDo(t, "GET", s.Base+"/metrics", "", 200)), "\n") {
		if name, _, ok := strings.Cut(l, " "); ok && !strings.HasPrefix(l, "#") {
			name, _, _ = strings.Cut(name, "{")
			exposed[name] = true
		}
	}
	names := regexp.MustCompile(`\b(cortex|process|go)_[a-z_]+\b`).FindAllString(string(dash), -1)
	if len(names) < 20 {
		t.Fatalf("the dashboard queries %d metrics; the test reads it wrong", len(names))
	}
	for _, n := range names {
		if !exposed[n] {
			t.Errorf("docs/grafana-dashboard.json queries %s, which cortex serve does not expose", n)
		}
	}
}

// TestDocs_Links: every relative link of README.md and docs/*.md names a
// file of the repository (and an anchor of it, when it has one), and the
// README stays a front door: at most 10 KB.
func TestDocs_Links(t *testing.T) {
	root := filepath.Join("..", "..")
	pages, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	pages = append(pages, filepath.Join(root, "README.md"))
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "README.md" && len(b) > 10<<10 {
			t.Errorf("README.md is %d bytes; keep it under 10 KB and move the rest into docs/", len(b))
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			if file == "" {
				file = filepath.Base(p)
			}
			dest := filepath.Clean(filepath.Join(filepath.Dir(p), file))
			destRel, _ := filepath.Rel(root, dest)
			content, err := os.ReadFile(dest)
			if err != nil {
				t.Errorf("%s links to %s, which does not exist", rel, target)
				continue
			}
			if anchor != "" && strings.HasSuffix(dest, ".md") && !slices.Contains(anchors(string(content)), anchor) {
				t.Errorf("%s links to %s: no heading with that anchor in %s", rel, target, destRel)
			}
		}
	}
}

// anchors are the ids a code host gives a Markdown page's headings.
func anchors(page string) []string {
	var out []string
	for _, l := range strings.Split(page, "\n") {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(l, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ' || r == '-':
				b.WriteRune('-')
			case r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127 && r != '…' && r != '—' && r != '·':
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}
