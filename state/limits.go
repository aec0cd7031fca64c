package state

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
)

// MaxTTLSeconds is the longest session TTL in seconds: 100 years of 365
// days. With it, last_active + ttl stays far inside the int64 nanoseconds
// the stores keep until the year 2162, and saturates after that.
const MaxTTLSeconds = 3_153_600_000

// MaxTTL is MaxTTLSeconds as a Duration.
const MaxTTL = MaxTTLSeconds * time.Second

// ValidateTTL checks a session TTL: 0 (no expiry) or more than 0 and at
// most MaxTTL. The error names ttl_seconds, the field clients set.
func ValidateTTL(ttl time.Duration) error {
	if ttl < 0 || ttl > MaxTTL {
		return Invalid("ttl_seconds", "want 0 or null (never expires) or 1 to %d seconds (100 years), got %s", MaxTTLSeconds, ttl)
	}
	return nil
}

// ClampTTL returns ttl brought into [0, MaxTTL].
func ClampTTL(ttl time.Duration) time.Duration {
	return min(max(ttl, 0), MaxTTL)
}

// Bounds of the times the stores can keep as int64 Unix nanoseconds
// (1677-09-21 to 2262-04-11, UTC).
var (
	MinNanosTime = time.Unix(0, math.MinInt64).UTC()
	MaxNanosTime = time.Unix(0, math.MaxInt64).UTC()
)

// UnixNanos is t.UnixNano, saturated: a time before MinNanosTime gives
// math.MinInt64 and one after MaxNanosTime math.MaxInt64, where UnixNano's
// result is undefined (it wraps).
func UnixNanos(t time.Time) int64 {
	switch {
	case t.Before(MinNanosTime):
		return math.MinInt64
	case t.After(MaxNanosTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// AddNanos returns a + b, saturated at the int64 bounds instead of
// wrapping: the stores' time arithmetic (last_active + ttl, now − age).
func AddNanos(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	}
	return s
}

// AddTime returns t + d saturated to [MinNanosTime, MaxNanosTime], the
// times every store keeps.
func AddTime(t time.Time, d time.Duration) time.Time {
	return time.Unix(0, AddNanos(UnixNanos(t), int64(d))).UTC()
}

// DefaultMaxMetadataBytes is the default bound on a session's or a
// snapshot's metadata: 64 KiB.
const DefaultMaxMetadataBytes = 64 << 10

// ValidateMetadata is NormalizeMetadata plus the size bound: metadata of
// more than max bytes is ErrTooLarge.
func ValidateMetadata(md json.RawMessage, max int) (json.RawMessage, error) {
	if len(md) > max {
		return nil, &tooLargeError{what: "metadata", size: len(md), max: max}
	}
	return NormalizeMetadata(md)
}

// Fingerprint identifies an append's request for its idempotency key, as
// the IETF idempotency-key draft asks: a key reused with a request of
// another fingerprint is ErrIdempotencyMismatch. It covers what defines
// the append: the state as sent, the normalised metadata and the expected
// version. It is xxHash64 (a few GB/s: a 1 MiB state costs well under a
// millisecond) of those fields, each length-prefixed so that no two
// different requests share their bytes; stores keep it beside the key.
// Only appends with a key compute it.
func Fingerprint(in AppendInput, md json.RawMessage) int64 {
	var d xxhash.Digest
	d.Reset()
	var n [8]byte
	field := func(b []byte) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
		d.Write(n[:])
		d.Write(b)
	}
	d.WriteString("cortex append v1")
	field(in.State)
	field(md)
	if in.ExpectedVersion != nil {
		binary.LittleEndian.PutUint64(n[:], uint64(*in.ExpectedVersion))
		d.Write([]byte{0})
		d.Write(n[:])
	} else {
		d.Write([]byte{0xff})
	}
	return int64(d.Sum64())
}

// KeyMismatch is the ErrIdempotencyMismatch of key, first used for the
// append that made version.
func KeyMismatch(key string, version int64) error {
	return &keyMismatchError{key: key, version: version}
}

type keyMismatchError struct {
	key     string
	version int64
}

func (e *keyMismatchError) Error() string {
	return "idempotency key " + strconv.Quote(e.key) + " was used for a different request (the one that made version " +
		strconv.FormatInt(e.version, 10) + "): send that request again to get its result, or use a new key for a new request"
}
func (e *keyMismatchError) Is(target error) bool { return target == ErrIdempotencyMismatch }

// BatchKeys checks that no two items of a batch carry the same
// idempotency key for the same session with different fingerprints (fps,
// by item; 0 for an item without a key): ErrInvalid naming both items.
// Identical items with one key are allowed: the later one replays the
// first.
func BatchKeys(items []BatchItem, fps []int64) error {
	type at struct {
		i  int
		fp int64
	}
	var seen map[[2]string]at
	for i, it := range items {
		if it.IdempotencyKey == "" {
			continue
		}
		if seen == nil {
			seen = make(map[[2]string]at)
		}
		k := [2]string{it.SessionID, it.IdempotencyKey}
		if prev, ok := seen[k]; ok {
			if prev.fp != fps[i] {
				return Invalid("items", "items %d and %d carry idempotency key %q of session %q for different requests: one key names one request", prev.i, i, it.IdempotencyKey, it.SessionID)
			}
			continue
		}
		seen[k] = at{i, fps[i]}
	}
	return nil
}
