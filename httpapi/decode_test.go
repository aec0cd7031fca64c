package httpapi

import (
	"strings"
	"testing"
)

// BenchmarkDecodeAppend compares the append body's fast path with the
// general decoder on the benchmark's 512-byte state.
//
//	go test -run '^$' -bench DecodeAppend -benchmem ./httpapi/
func BenchmarkDecodeAppend(b *testing.B) {
	body := []byte(`{"state":{"data":"` + strings.Repeat("x", 490) + `"},"metadata":{"source":"bench"}}`)
	b.Run("splitAppend", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := splitAppend(body); !ok {
				b.Fatal("not split")
			}
		}
	})
	b.Run("splitAppend+checkStrict+utf8", func(b *testing.B) {
		// What an append's body now costs: the split, then the strict
		// checks (names once each, no lone surrogates) and UTF-8.
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := splitAppend(body); !ok {
				b.Fatal("not split")
			}
			if checkUTF8(body) != nil || checkStrict(body, nil) != nil {
				b.Fatal("refused")
			}
		}
	})
	b.Run("decodeBody", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req appendRequest
			if err := decodeBody(body, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
