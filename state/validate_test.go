package state_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/state"
)

// FuzzValidJSON: ValidJSON gives encoding/json.Valid's answer for any input.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{
		`{"data":"x","n":[1,2.5e3,-0,true,false,null],"o":{"k":"v\u00e9\n"}}`, `"\xff"`, `"\u0000"`, `"\ud800"`,
		"\"\x16\"", `1e999`, `["\\\"[["]`, ` {"a":1} `, `{"a":1} x`, `01`, `-`, `1.`, `.5`, `[1,]`, `{"a"}`, `nul`, ``, ` `,
		`"\x"`, `[[[[[[[[[[]]]]]]]]]]`, strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 9999) + `"\\\"[[[[[[[[[["` + strings.Repeat("]", 9999), // brackets in a string do not nest
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001), strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := state.ValidJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			if len(s) > 200 {
				s = s[:200] + "…"
			}
			t.Fatalf("ValidJSON(%q) = %v, encoding/json.Valid says %v", s, got, want)
		}
	})
}

// BenchmarkValidJSON: ValidJSON against encoding/json.Valid on a 512-byte
// state.
//
//	go test -run '^$' -bench ValidJSON ./state/
func BenchmarkValidJSON(b *testing.B) {
	st := []byte(`{"data":"` + strings.Repeat("x", 499) + `"}`)
	b.Run("ValidJSON", func(b *testing.B) {
		for b.Loop() {
			state.ValidJSON(st)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Valid(st)
		}
	})
}
