package sqlitestore

import (
	"errors"
	"fmt"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// storeErr names the operation and translates sqlitedb's errors into the
// domain's, keeping both in the chain.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, state.ErrNotFound):
		return err // notFound named what is missing: "latest snapshot of session "x": not found"
	case errors.Is(err, sqlitedb.ErrBusy), errors.Is(err, sqlitedb.ErrClosed),
		errors.Is(err, sqlitedb.ErrPoolTimeout), errors.Is(err, sqlitedb.ErrQueueFull):
		return fmt.Errorf("%s: %w: %w", op, state.ErrUnavailable, err)
	case errors.Is(err, sqlitedb.ErrDiskFull):
		return &sqlitedb.HintError{Op: op, Err: fmt.Errorf("%w: %w", state.ErrStorageFull, err), Hint: "free space on the disk that holds the database (or raise its size limit), then retry"}
	case errors.Is(err, sqlitedb.ErrCorrupt):
		return &sqlitedb.HintError{Op: op, Err: fmt.Errorf("%w: the database is damaged: %w", state.ErrUnavailable, err), Hint: "restore it from a backup (cortex restore)"}
	case errors.Is(err, sqlitedb.ErrReadOnly), errors.Is(err, sqlitedb.ErrIO):
		return fmt.Errorf("%s: %w: %w", op, state.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isUniqueViolation(err error) bool {
	c, ok := sqlitedb.CodeOf(err)
	return ok && (c == sqlitedb.CodeConstraintPrimaryKey || c == sqlitedb.CodeConstraintUnique)
}

func notFound(what string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(what, args...), state.ErrNotFound)
}
