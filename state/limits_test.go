package state

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestAddNanosSaturates(t *testing.T) {
	for _, tc := range []struct{ a, b, want int64 }{
		{1, 2, 3},
		{math.MaxInt64 - 1, 5, math.MaxInt64},
		{1796458118565464607, 9223372036000000000, math.MaxInt64},
		{math.MinInt64 + 1, -5, math.MinInt64},
		{-5, 3, -2},
	} {
		if got := AddNanos(tc.a, tc.b); got != tc.want {
			t.Errorf("AddNanos(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if got := UnixNanos(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)); got != math.MaxInt64 {
		t.Errorf("UnixNanos(2300) = %d", got)
	}
	if got := UnixNanos(time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)); got != math.MinInt64 {
		t.Errorf("UnixNanos(1600) = %d", got)
	}
	if got := AddTime(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), MaxTTL); !got.Equal(MaxNanosTime) {
		t.Errorf("AddTime(2200, 100y) = %v, want %v", got, MaxNanosTime)
	}
}

func TestValidateTTL(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Second, MaxTTL} {
		if err := ValidateTTL(ttl); err != nil {
			t.Errorf("ValidateTTL(%v): %v", ttl, err)
		}
	}
	for _, ttl := range []time.Duration{-1, MaxTTL + 1, math.MaxInt64} {
		var inv *InvalidError
		if err := ValidateTTL(ttl); !errors.As(err, &inv) || inv.Field != "ttl_seconds" || !strings.Contains(inv.Reason, "3153600000") {
			t.Errorf("ValidateTTL(%v) = %v", ttl, err)
		}
	}
}

func TestFingerprint(t *testing.T) {
	v0, v1 := int64(0), int64(1)
	base := Fingerprint(AppendInput{State: json.RawMessage(`{"a":1}`)}, json.RawMessage(`{}`))
	if again := Fingerprint(AppendInput{State: json.RawMessage(`{"a":1}`), IdempotencyKey: "other"}, json.RawMessage(`{}`)); again != base {
		t.Error("the fingerprint depends on the key")
	}
	seen := map[int64]string{base: "base"}
	for name, fp := range map[string]int64{
		"state":        Fingerprint(AppendInput{State: json.RawMessage(`{"a":2}`)}, json.RawMessage(`{}`)),
		"metadata":     Fingerprint(AppendInput{State: json.RawMessage(`{"a":1}`)}, json.RawMessage(`{"m":1}`)),
		"expected 0":   Fingerprint(AppendInput{State: json.RawMessage(`{"a":1}`), ExpectedVersion: &v0}, json.RawMessage(`{}`)),
		"expected 1":   Fingerprint(AppendInput{State: json.RawMessage(`{"a":1}`), ExpectedVersion: &v1}, json.RawMessage(`{}`)),
		"shifted":      Fingerprint(AppendInput{State: json.RawMessage(`{"a":1}{`)}, json.RawMessage(`}`)),
		"state spaces": Fingerprint(AppendInput{State: json.RawMessage(`{"a": 1}`)}, json.RawMessage(`{}`)),
	} {
		if prev, ok := seen[fp]; ok {
			t.Errorf("%s and %s share a fingerprint", name, prev)
		}
		seen[fp] = name
	}
}

func TestBatchKeys(t *testing.T) {
	item := func(id, key string) BatchItem {
		return BatchItem{SessionID: id, AppendInput: AppendInput{IdempotencyKey: key}}
	}
	if err := BatchKeys([]BatchItem{item("a", "k"), item("b", "k"), item("a", "k"), item("a", "")}, []int64{1, 2, 1, 0}); err != nil {
		t.Errorf("same key, identical or other session: %v", err)
	}
	if err := BatchKeys([]BatchItem{item("a", "k"), item("a", "j"), item("a", "k")}, []int64{1, 2, 3}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "items 0 and 2") {
		t.Errorf("one key on two different items: %v", err)
	}
}

// BenchmarkFingerprint is the cost an append with an Idempotency-Key
// pays for binding the key to its request (appends without a key pay
// nothing).
//
//	go test -run '^$' -bench Fingerprint ./state/
func BenchmarkFingerprint(b *testing.B) {
	for _, n := range []int{512, 1 << 20} {
		st := json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`)
		md := json.RawMessage(`{"by":"bench"}`)
		b.Run(map[int]string{512: "state=512B", 1 << 20: "state=1MiB"}[n], func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				Fingerprint(AppendInput{State: st, IdempotencyKey: "k"}, md)
			}
		})
	}
}
