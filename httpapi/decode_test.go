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
