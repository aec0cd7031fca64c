package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestBench_JSONAndSVG(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "out.svg")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "--workload", "mix", "--concurrency", "1,2",
		"--duration", "200ms", "--warmup", "0s", "--sessions", "20", "--dir", filepath.Join(dir, "db"),
		"--configs", "sqlite-normal,sqlite-full", "--baseline", "naive", "--json", "--svg", svg}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var rep struct {
		Machine struct {
			Cores int    `json:"cores"`
			Go    string `json:"go"`
		} `json:"machine"`
		Command string `json:"command"`
		Steps   []struct {
			Config string `json:"config"`
			Ops    int64  `json:"ops"`
			Errors int64  `json:"errors"`
			Ratios []struct {
				Baseline string `json:"baseline"`
			} `json:"ratios"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output is not one JSON document: %v\n%s", err, out.String())
	}
	if rep.Machine.Cores == 0 || rep.Machine.Go == "" || rep.Command == "" {
		t.Errorf("report machine %+v, command %q", rep.Machine, rep.Command)
	}
	if len(rep.Steps) != 6 {
		t.Fatalf("%d steps, want 3 configurations × 2 concurrencies", len(rep.Steps))
	}
	for _, s := range rep.Steps {
		if s.Ops == 0 || s.Errors != 0 {
			t.Errorf("%s: %d ops, %d errors", s.Config, s.Ops, s.Errors)
		}
		if s.Config != "naive" && (len(s.Ratios) != 1 || s.Ratios[0].Baseline != "naive") {
			t.Errorf("%s: ratios %+v, want one to naive", s.Config, s.Ratios)
		}
	}
	f, err := os.Open(svg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("--svg file is not well-formed: %v", err)
		}
	}
}

func TestBench_Table(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "--concurrency", "2", "--duration", "200ms", "--warmup", "0s",
		"--sessions", "20", "--quiet"}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("sqlite-normal")) || !bytes.Contains(out.Bytes(), []byte("p99.9 ms")) {
		t.Errorf("table:\n%s", out.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("--quiet wrote to stderr: %q", errOut.String())
	}
}

func TestBench_UsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--workload", "nope"},
		{"--concurrency", "0"},
		{"--configs", "sqlite-fast"},
		{"--baseline", "mysql"},
		{"--mode", "grpc"},
		{"--mix", "latest=0"},
		{"--db", "some.db"},
		{"--configs", "postgres"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"bench"}, args...), &out, &errOut)
		if !errors.Is(err, errUsage) {
			t.Errorf("bench %q: err = %v, want a usage error", args, err)
		}
	}
}
