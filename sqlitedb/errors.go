package sqlitedb

import (
	"context"
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap them; test with
// errors.Is. Classification is by SQLite result code, never by message text.
var (
	// ErrBusy: the database was locked by another connection or process
	// (SQLITE_BUSY, SQLITE_LOCKED and their extended codes) for longer than
	// busy_timeout and the retries allowed.
	ErrBusy = errors.New("database is busy")
	// ErrCorrupt: the file is not a SQLite database or is damaged
	// (SQLITE_CORRUPT, SQLITE_NOTADB). Restore from a backup.
	ErrCorrupt = errors.New("database is corrupt or not a SQLite database")
	// ErrDiskFull: SQLITE_FULL — the disk, or the database's max_page_count, is full.
	ErrDiskFull = errors.New("database or disk is full")
	// ErrReadOnly: SQLITE_READONLY, SQLITE_CANTOPEN or SQLITE_PERM — the
	// file, its folder or the connection does not allow writing.
	ErrReadOnly = errors.New("database is read-only")
	// ErrConstraint: SQLITE_CONSTRAINT and its extended codes.
	ErrConstraint = errors.New("constraint failed")
	// ErrIO: SQLITE_IOERR and its extended codes.
	ErrIO = errors.New("disk I/O error")
	// ErrWALFailed: an earlier write or sync of the -wal file failed (an
	// I/O error, or a failed fsync), so what the WAL holds is unknown; the
	// DB refuses writes from then on. Check the disk and the system log,
	// then reopen the database (SQLite's recovery reads the WAL again).
	ErrWALFailed = errors.New("the -wal file had an I/O error; writes are refused until the database is reopened")
	// ErrPoolTimeout: no reader connection became free within Config.PoolTimeout.
	ErrPoolTimeout = errors.New("timed out waiting for a reader connection")
	// ErrQueueFull: the writer queue stayed full until the caller's context ended.
	ErrQueueFull = errors.New("writer queue is full")
	// ErrClosed: the DB is closed.
	ErrClosed = errors.New("database is closed")
	// ErrNetworkFS: the database is on a network filesystem, where SQLite's
	// WAL locking does not work.
	ErrNetworkFS = errors.New("database is on a network filesystem")
	// ErrNotSingle: a function given to ReadOne ran a second statement.
	// Use Read, whose transaction keeps one snapshot for all of them.
	ErrNotSingle = errors.New("ReadOne: a second statement; use Read for several")
	// ErrUnsafeVersion: the linked SQLite has a known corruption bug.
	ErrUnsafeVersion = errors.New("SQLite version has a known corruption bug")
)

// SQLite primary result codes used for classification.
// See https://www.sqlite.org/rescode.html.
const (
	codeError      = 1
	codePerm       = 3
	codeBusy       = 5
	codeLocked     = 6
	codeReadOnly   = 8
	codeInterrupt  = 9
	codeIOErr      = 10
	codeCorrupt    = 11
	codeFull       = 13
	codeCantOpen   = 14
	codeConstraint = 19
	codeNotADB     = 26

	// CodeConstraintForeignKey etc. are extended codes callers often need.
	CodeConstraintForeignKey = codeConstraint | 3<<8
	CodeConstraintPrimaryKey = codeConstraint | 6<<8
	CodeConstraintUnique     = codeConstraint | 8<<8
	CodeBusySnapshot         = codeBusy | 2<<8
)

// Error is an error from SQLite with its extended result code. It matches
// the sentinel of its class with errors.Is.
type Error struct {
	// Code is SQLite's extended result code (the primary code is Code&0xff).
	Code int
	// Op names the step that failed, such as "begin immediate".
	Op  string
	err error
}

func (e *Error) Error() string {
	if e.Op == "" {
		return e.err.Error()
	}
	return e.Op + ": " + e.err.Error()
}

// Unwrap returns the driver's error.
func (e *Error) Unwrap() error { return e.err }

// Is reports whether the error's result code belongs to target's class.
func (e *Error) Is(target error) bool {
	return target != nil && classOf(e.Code) == target
}

func classOf(code int) error {
	switch code & 0xff {
	case codeBusy, codeLocked:
		return ErrBusy
	case codeCorrupt, codeNotADB:
		return ErrCorrupt
	case codeFull:
		return ErrDiskFull
	case codeReadOnly, codeCantOpen, codePerm:
		return ErrReadOnly
	case codeConstraint:
		return ErrConstraint
	case codeIOErr:
		return ErrIO
	}
	return nil
}

// CodeOf returns the SQLite extended result code carried by err, if any.
func CodeOf(err error) (int, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return driverCode(err)
}

// classify wraps a driver error in *Error so errors.Is works with the
// sentinels. ctx, when done, turns SQLITE_INTERRUPT into ctx.Err().
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if op != "" && e.Op == "" {
			return &Error{Code: e.Code, Op: op, err: e.err}
		}
		return err
	}
	if code, ok := driverCode(err); ok {
		if code&0xff == codeInterrupt && ctx != nil && ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		return &Error{Code: code, Op: op, err: err}
	}
	if op == "" {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isBusy reports whether err is a lock conflict that a retry may clear.
func isBusy(err error) bool { return errors.Is(err, ErrBusy) }

// breaksTx reports whether SQLite may have rolled back the whole transaction
// after err (https://www.sqlite.org/lang_transaction.html#response_to_errors_within_a_transaction).
func breaksTx(err error) bool {
	c, ok := CodeOf(err)
	if !ok {
		return false
	}
	switch c & 0xff {
	case codeFull, codeIOErr, codeBusy, codeLocked, codeCorrupt, codeNotADB, codeInterrupt:
		return true
	}
	return c&0xff == 7 // SQLITE_NOMEM
}
