package sqlitestore

import (
	"context"
	"fmt"

	"github.com/cortex-db/cortex/sqlitedb"
)

// Counts are the numbers of rows in a database, read in O(1) from
// counters that triggers keep in the same transactions as the writes
// (migration row_counts), never by counting rows. Only sessions are
// counted: a counter of snapshots would add a page to every append's
// commit.
type Counts struct {
	Sessions int64 `json:"sessions"`
}

// ReadCounts reads the counts of a cortex database opened with sqlitedb
// (a store's DB, or an ops command's). ok is false for a database whose
// schema predates the counters, or that is not a cortex database.
func ReadCounts(ctx context.Context, db *sqlitedb.DB) (c Counts, ok bool, err error) {
	err = db.Read(ctx, func(tx *sqlitedb.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'row_counts'").Scan(&n); err != nil || n == 0 {
			return err
		}
		ok = true
		return tx.QueryRow(ctx, "SELECT n FROM row_counts WHERE name = 'sessions'").Scan(&c.Sessions)
	})
	if err != nil {
		return Counts{}, false, fmt.Errorf("read counts: %w", err)
	}
	return c, ok, nil
}
