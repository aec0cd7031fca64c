package sqlitestore

import (
	"encoding/base64"
	"strings"

	"github.com/cortex-db/cortex/state"
)

// Cursors are opaque to callers: base64url of a tag and the keyset.
const (
	listCursorTag    = "l1:"
	historyCursorTag = "h1:"
)

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(c, tag string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), tag) {
		return "", false
	}
	return string(b[len(tag):]), true
}

func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return state.DefaultLimit, nil
	case n < 0 || n > state.MaxLimit:
		return 0, state.Invalid("limit", "must be between 1 and %d", state.MaxLimit)
	}
	return n, nil
}
