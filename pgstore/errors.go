package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/cortex-db/cortex/state"
)

// SQLSTATE codes the store acts on
// (https://www.postgresql.org/docs/15/errcodes-appendix.html).
const (
	codeUniqueViolation        = "23505"
	codeForeignKeyViolation    = "23503"
	codeSerializationFailure   = "40001"
	codeDeadlockDetected       = "40P01"
	codeDiskFull               = "53100"
	codeOutOfMemory            = "53200"
	codeTooManyConnections     = "53300"
	codeProgramLimitExceeded   = "54000"
	codeCharacterNotInRepert   = "22021"
	codeUntranslatableChar     = "22P05"
	codeInvalidTextRepr        = "22P02"
	codeAdminShutdown          = "57P01"
	codeCrashShutdown          = "57P02"
	codeCannotConnectNow       = "57P03"
	codeReadOnlySQLTransaction = "25006"
)

// translate turns a driver error from step op into the state errors, wrapped
// with the original so errors.As still finds the *pgconn.PgError. Errors that
// already are domain errors, and context errors, are only prefixed with op.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if isDomain(err) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch c := pgErr.Code; {
		case c == codeUniqueViolation:
			// The op names the id; the constraint's name is no news to
			// an API client.
			return state.WithCause(fmt.Errorf("%s: %w", op, state.ErrExists), err)
		case c == codeForeignKeyViolation:
			return fmt.Errorf("%s: %w: %w", op, state.ErrNotFound, err)
		case c == codeDiskFull:
			return fmt.Errorf("%s: %w: PostgreSQL's disk is full; free space on the database server, then retry: %w", op, state.ErrStorageFull, err)
		case c == codeCharacterNotInRepert, c == codeUntranslatableChar, c == codeInvalidTextRepr:
			return fmt.Errorf("%s: %w: %w", op, &state.InvalidError{Field: "input", Reason: pgErr.Message}, err)
		case c == codeProgramLimitExceeded:
			return fmt.Errorf("%s: %w: %w", op, state.ErrTooLarge, err)
		case c == codeAdminShutdown, c == codeCrashShutdown, c == codeCannotConnectNow,
			c == codeTooManyConnections, c == codeOutOfMemory, c == codeReadOnlySQLTransaction,
			c == codeSerializationFailure, c == codeDeadlockDetected,
			strings.HasPrefix(c, "08"):
			return fmt.Errorf("%s: %w: PostgreSQL cannot answer now (SQLSTATE %s); retry later: %w", op, state.ErrUnavailable, c, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if isConnError(err) {
		return fmt.Errorf("%s: %w: lost or could not open the connection to PostgreSQL; check that it is running, then retry: %w", op, state.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isDomain reports whether err already carries a state error.
func isDomain(err error) bool {
	for _, target := range []error{state.ErrNotFound, state.ErrExists, state.ErrVersionConflict,
		state.ErrInvalid, state.ErrTooLarge, state.ErrUnavailable, state.ErrStorageFull} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// isConnError reports a failure to reach the server or a connection lost on
// the way, as opposed to an error the server answered.
func isConnError(err error) bool {
	var connErr *pgconn.ConnectError
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr), errors.As(err, &opErr):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case pgconn.SafeToRetry(err), pgconn.Timeout(err):
		return true
	}
	// A closed pool: the store was closed while a call was on its way.
	return errors.Is(err, puddle.ErrClosedPool)
}

// retryable reports errors after which the whole transaction may run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected
	}
	return false
}
