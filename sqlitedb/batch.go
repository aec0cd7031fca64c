package sqlitedb

import (
	"context"
	"fmt"
)

// Batch runs one statement for each row of args in a single write
// transaction: all rows or none. It is the fast way to load many rows; the
// statement is prepared once.
func (db *DB) Batch(ctx context.Context, query string, rows [][]any) error {
	return db.Write(ctx, func(tx *Tx) error {
		for i, args := range rows {
			if _, err := tx.Exec(ctx, query, args...); err != nil {
				return fmt.Errorf("batch row %d: %w", i, err)
			}
		}
		return nil
	})
}
