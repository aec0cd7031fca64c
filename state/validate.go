package state

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/google/uuid"
)

// MaxIDLen is the longest session id.
const MaxIDLen = 128

// ValidateID checks a session id: 1–128 characters of [A-Za-z0-9._:-].
func ValidateID(id string) error {
	if id == "" {
		return Invalid("id", "must not be empty")
	}
	if len(id) > MaxIDLen {
		return Invalid("id", "longer than %d characters", MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return Invalid("id", "character %q at %d is not one of [A-Za-z0-9._:-]", c, i)
		}
	}
	return nil
}

// NewID returns a generated session id: a UUIDv7, so ids sort by creation time.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// ValidateState checks a snapshot state: present, valid JSON, at most max bytes.
func ValidateState(st json.RawMessage, max int) error {
	if len(bytes.TrimSpace(st)) == 0 {
		return Invalid("state", "is required")
	}
	if len(st) > max {
		return &tooLargeError{size: len(st), max: max}
	}
	if !json.Valid(st) {
		return Invalid("state", "is not valid JSON")
	}
	return nil
}

type tooLargeError struct{ size, max int }

func (e *tooLargeError) Error() string {
	return "state of " + strconv.Itoa(e.size) + " bytes is over the limit of " + strconv.Itoa(e.max) + " bytes"
}
func (e *tooLargeError) Is(target error) bool { return target == ErrTooLarge }

// NormalizeMetadata checks that md is a JSON object and returns it, or "{}"
// for nil/empty input.
func NormalizeMetadata(md json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(md)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	if t[0] != '{' || !json.Valid(t) {
		return nil, Invalid("metadata", "must be a JSON object")
	}
	return json.RawMessage(t), nil
}
