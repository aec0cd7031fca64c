package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestRun_Version(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &errOut); err != nil {
		t.Fatalf("run version: %v", err)
	}
	if !strings.HasPrefix(out.String(), "cortex ") {
		t.Fatalf("version output = %q, want it to start with %q", out.String(), "cortex ")
	}
}

func TestRun_UnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"frobnicate"}, &out, &errOut)
	if !errors.Is(err, errUsage) {
		t.Fatalf("run frobnicate: err = %v, want a usage error", err)
	}
}
