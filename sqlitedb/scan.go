package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"time"
)

// Rows is the result of Tx.Query. Close it when done (Next returning false
// closes it too). Not safe for concurrent use.
type Rows struct {
	rows   driver.Rows
	vals   []driver.Value
	err    error
	closed bool
	done   func()
}

// Next prepares the next row for Scan; false at the end or on error (see Err).
func (r *Rows) Next() bool {
	if r.closed {
		return false
	}
	if err := r.rows.Next(r.vals); err != nil {
		if !errors.Is(err, io.EOF) {
			r.err = classify(context.Background(), "", err)
		}
		r.Close()
		return false
	}
	return true
}

// Scan copies the current row's columns into dest: pointers to string,
// []byte, json.RawMessage, int, int64, int32, float64, bool, time.Time,
// any, types implementing sql.Scanner, or named types of those kinds.
func (r *Rows) Scan(dest ...any) error {
	if len(dest) != len(r.vals) {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(r.vals))
	}
	for i, d := range dest {
		if err := assign(d, r.vals[i]); err != nil {
			return fmt.Errorf("scan column %d: %w", i, err)
		}
	}
	return nil
}

// Err returns the error met during iteration, if any.
func (r *Rows) Err() error { return r.err }

// Close ends the query; it is idempotent.
func (r *Rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.rows.Close()
	r.done()
	return classify(context.Background(), "", err)
}

// assign stores a driver value into dest, converting as database/sql does
// for the common types.
func assign(dest any, src driver.Value) error {
	switch d := dest.(type) {
	case *any:
		if b, ok := src.([]byte); ok {
			src = append([]byte(nil), b...)
		}
		*d = src
		return nil
	case *string:
		switch s := src.(type) {
		case string:
			*d = s
		case []byte:
			*d = string(s)
		case int64:
			*d = strconv.FormatInt(s, 10)
		case float64:
			*d = strconv.FormatFloat(s, 'g', -1, 64)
		case bool:
			*d = strconv.FormatBool(s)
		case time.Time:
			*d = s.Format(time.RFC3339Nano)
		case nil:
			return errors.New("NULL into a string: use sql.NullString")
		default:
			return fmt.Errorf("cannot store %T in a string", src)
		}
		return nil
	case *[]byte:
		return assignBytes(d, src)
	case *json.RawMessage:
		return assignBytes((*[]byte)(d), src)
	case *int64:
		n, err := toInt(src)
		*d = n
		return err
	case *int:
		n, err := toInt(src)
		*d = int(n)
		return err
	case *int32:
		n, err := toInt(src)
		*d = int32(n)
		return err
	case *float64:
		switch s := src.(type) {
		case float64:
			*d = s
		case int64:
			*d = float64(s)
		case []byte, string:
			f, err := strconv.ParseFloat(fmt.Sprint(asString(s)), 64)
			*d = f
			return err
		default:
			return fmt.Errorf("cannot store %T in a float64", src)
		}
		return nil
	case *bool:
		switch s := src.(type) {
		case bool:
			*d = s
		case int64:
			*d = s != 0
		default:
			return fmt.Errorf("cannot store %T in a bool", src)
		}
		return nil
	case *time.Time:
		t, ok := src.(time.Time)
		if !ok {
			return fmt.Errorf("cannot store %T in a time.Time", src)
		}
		*d = t
		return nil
	case sql.Scanner:
		if b, ok := src.([]byte); ok {
			src = append([]byte(nil), b...)
		}
		return d.Scan(src)
	}
	return assignReflect(dest, src)
}

func assignBytes(d *[]byte, src driver.Value) error {
	switch s := src.(type) {
	case []byte:
		*d = append((*d)[:0:0], s...)
	case string:
		*d = []byte(s)
	case nil:
		*d = nil
	default:
		return fmt.Errorf("cannot store %T in a []byte", src)
	}
	return nil
}

func asString(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v.(string)
}

func toInt(src driver.Value) (int64, error) {
	switch s := src.(type) {
	case int64:
		return s, nil
	case float64:
		return int64(s), nil
	case bool:
		if s {
			return 1, nil
		}
		return 0, nil
	case []byte, string:
		return strconv.ParseInt(asString(s), 10, 64)
	case nil:
		return 0, errors.New("NULL into an integer: use sql.NullInt64")
	}
	return 0, fmt.Errorf("cannot store %T in an integer", src)
}

// assignReflect handles pointers to named types of the basic kinds.
func assignReflect(dest any, src driver.Value) error {
	rv := reflect.ValueOf(dest)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("destination %T is not a non-nil pointer", dest)
	}
	e := rv.Elem()
	switch e.Kind() {
	case reflect.String:
		var s string
		if err := assign(&s, src); err != nil {
			return err
		}
		e.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := toInt(src)
		if err != nil {
			return err
		}
		e.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := toInt(src)
		if err != nil {
			return err
		}
		e.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		var f float64
		if err := assign(&f, src); err != nil {
			return err
		}
		e.SetFloat(f)
	case reflect.Bool:
		var b bool
		if err := assign(&b, src); err != nil {
			return err
		}
		e.SetBool(b)
	case reflect.Slice:
		if e.Type().Elem().Kind() == reflect.Uint8 {
			var b []byte
			if err := assignBytes(&b, src); err != nil {
				return err
			}
			e.SetBytes(b)
			return nil
		}
		fallthrough
	default:
		return fmt.Errorf("unsupported scan destination %T", dest)
	}
	return nil
}
