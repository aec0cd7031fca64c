package pgstore

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/cortex-db/cortex/state"
)

// Cursors are opaque to clients: base64url of a tagged position. A sessions
// cursor is the last row's (last_active in Unix microseconds, id); a history
// cursor is the last version. Ids cannot contain '|'.

func encodeSessionCursor(lastActive time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s1|" + strconv.FormatInt(lastActive.UnixMicro(), 10) + "|" + id))
}

func decodeSessionCursor(c string) (time.Time, string, error) {
	bad := state.Invalid("cursor", "is not a cursor from this listing; pass next_cursor unchanged")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", bad
	}
	parts := strings.SplitN(string(b), "|", 3)
	if len(parts) != 3 || parts[0] != "s1" {
		return time.Time{}, "", bad
	}
	us, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || state.ValidateID(parts[2]) != nil {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(us).UTC(), parts[2], nil
}

func encodeHistoryCursor(version int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("h1|" + strconv.FormatInt(version, 10)))
}

func decodeHistoryCursor(c string) (int64, error) {
	bad := state.Invalid("cursor", "is not a cursor from this history; pass next_cursor unchanged")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, bad
	}
	tag, num, ok := strings.Cut(string(b), "|")
	if !ok || tag != "h1" {
		return 0, bad
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v <= 0 {
		return 0, bad
	}
	return v, nil
}
