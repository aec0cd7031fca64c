package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"unicode/utf8"

	"github.com/cortex-db/cortex/state"
)

// The strict checks every JSON body passes besides encoding/json's, which
// matches field names without case and lets a repeated name win last:
//
//   - a request's field names are exact ("State" is an unknown field);
//   - no object, at any depth (states and metadata included), names a
//     member twice: RFC 8259 leaves the meaning of that to the reader, and
//     the engines read it differently (PostgreSQL's jsonb keeps the last,
//     SQLite keeps the text), so it is refused rather than stored;
//   - no string holds an escaped lone surrogate (\ud800 without its pair),
//     which no UTF-8 text can represent;
//   - the body is UTF-8 (checked by readJSON, on the raw bytes).

// shape is what a request's JSON must look like: for an object, its exact
// member names and theirs shapes; for an array, its elements' shape. A nil
// *shape is free-form JSON (states, metadata): only duplicates and
// surrogates are checked.
type shape struct {
	fields map[string]*shape
	elem   *shape
}

var (
	shapes      sync.Map // reflect.Type → *shape
	rawJSONType = reflect.TypeFor[json.RawMessage]()
)

// shapeOf builds the shape of a request type from its json tags.
func shapeOf(t reflect.Type) *shape {
	if s, ok := shapes.Load(t); ok {
		return s.(*shape)
	}
	s := buildShape(t)
	shapes.Store(t, s)
	return s
}

func buildShape(t reflect.Type) *shape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawJSONType {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		s := &shape{fields: map[string]*shape{}}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if tag := f.Tag.Get("json"); tag != "" {
				if tag == "-" {
					continue
				}
				if n, _, _ := cutComma(tag); n != "" {
					name = n
				}
			}
			s.fields[name] = buildShape(f.Type)
		}
		return s
	case reflect.Slice, reflect.Array:
		if e := buildShape(t.Elem()); e != nil {
			return &shape{elem: e}
		}
	}
	return nil
}

func cutComma(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// checkStrict runs the strict checks on b, one valid JSON value (possibly
// surrounded by whitespace), against sh.
func checkStrict(b []byte, sh *shape) error {
	c := scanners.Get().(*strictScanner)
	c.b = b
	_, err := c.value(skipSpace(b, 0), sh)
	clear(c.keys[:cap(c.keys)]) // no body kept alive by the pool
	*c = strictScanner{keys: c.keys[:0]}
	scanners.Put(c)
	return err
}

// scanners keep their stacks of member names between requests: each
// check would otherwise grow one anew.
var scanners = sync.Pool{New: func() any { return &strictScanner{keys: make([][]byte, 0, 16)} }}

type strictScanner struct {
	b []byte
	// keys is a stack of the member names of the objects being scanned,
	// reused across objects to spare an allocation per object.
	keys [][]byte
}

// value scans the value at b[i] and returns the index past it.
func (c *strictScanner) value(i int, sh *shape) (int, error) {
	b := c.b
	switch b[i] {
	case '{':
		return c.object(i, sh)
	case '[':
		var elem *shape
		if sh != nil {
			elem = sh.elem
		}
		i = skipSpace(b, i+1)
		if b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = c.value(i, elem); err != nil {
				return i, err
			}
			i = skipSpace(b, i)
			if b[i] == ']' {
				return i + 1, nil
			}
			i = skipSpace(b, i+1) // past the comma
		}
	case '"':
		end, _, err := c.str(i)
		return end, err
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i, nil
			}
			i++
		}
		return i, nil
	}
}

// object scans the object at b[i].
func (c *strictScanner) object(i int, sh *shape) (int, error) {
	b := c.b
	base := len(c.keys)
	defer func() { c.keys = c.keys[:base] }()
	i = skipSpace(b, i+1)
	if b[i] == '}' {
		return i + 1, nil
	}
	var seen map[string]bool // past 16 members
	for {
		end, key, err := c.str(i)
		if err != nil {
			return end, err
		}
		if seen != nil {
			if seen[string(key)] {
				return end, duplicateKey(string(key))
			}
			seen[string(key)] = true
		} else {
			for _, k := range c.keys[base:] {
				if bytes.Equal(k, key) {
					return end, duplicateKey(string(key))
				}
			}
			c.keys = append(c.keys, key)
			if len(c.keys)-base > 16 {
				seen = make(map[string]bool, 32)
				for _, k := range c.keys[base:] {
					seen[string(k)] = true
				}
			}
		}
		var member *shape
		if sh != nil && sh.fields != nil {
			m, ok := sh.fields[string(key)]
			if !ok {
				return end, unknownField(string(key))
			}
			member = m
		}
		i = skipSpace(b, end)
		i = skipSpace(b, i+1) // past the colon
		if i, err = c.value(i, member); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if b[i] == '}' {
			return i + 1, nil
		}
		i = skipSpace(b, i+1) // past the comma
	}
}

// unknownFieldError is the 400 for a member the request type does not
// have: a *state.InvalidError naming it (errors.As finds it through
// Unwrap), and a type of its own, so that a route can say more about it
// (stateWrapperHint) without reading the message.
type unknownFieldError struct{ inv *state.InvalidError }

func unknownField(name string) error {
	return &unknownFieldError{inv: &state.InvalidError{Field: name, Reason: fmt.Sprintf("unknown field %q (field names are case-sensitive)", name)}}
}

func (e *unknownFieldError) Error() string { return e.inv.Error() }
func (e *unknownFieldError) Unwrap() error { return e.inv }

func duplicateKey(key string) error {
	return badRequest(key, "the name %q appears twice in one object; send each name once", key)
}

// str scans the string at b[i] (its opening quote) and returns the index
// past it and its text (unescaped when it had escapes; else a slice of b,
// no copy). An escaped lone surrogate is an error.
func (c *strictScanner) str(i int) (int, []byte, error) {
	b := c.b
	start := i + 1
	escaped := false
	for i = start; b[i] != '"'; i++ {
		if b[i] != '\\' {
			continue
		}
		escaped = true
		i++
		if b[i] != 'u' {
			continue
		}
		r := hex4(b[i+1:])
		i += 4
		switch {
		case r >= 0xd800 && r < 0xdc00:
			// A high surrogate needs a low one right after it.
			if i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
				if lo := hex4(b[i+3:]); lo >= 0xdc00 && lo < 0xe000 {
					i += 6
					continue
				}
			}
			return i, nil, loneSurrogate(r)
		case r >= 0xdc00 && r < 0xe000:
			return i, nil, loneSurrogate(r)
		}
	}
	if !escaped {
		return i + 1, b[start:i:i], nil
	}
	var s string
	if err := json.Unmarshal(b[start-1:i+1], &s); err != nil {
		return i + 1, nil, badRequest("body", "malformed JSON string: %v", err)
	}
	return i + 1, []byte(s), nil
}

func loneSurrogate(r rune) error {
	return badRequest("body", "a string holds \\u%04x, half of a UTF-16 surrogate pair without the other half; JSON text must be valid Unicode", r)
}

func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return -1
		}
	}
	return r
}

// checkUTF8 refuses a body that is not UTF-8, naming the first bad byte.
func checkUTF8(b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return badRequest("body", "byte %d (0x%02x) is not UTF-8: JSON text must be UTF-8 (RFC 8259); send strings as UTF-8, binary data as base64", i, b[i])
		}
		i += n
	}
	return badRequest("body", "the body is not UTF-8")
}
