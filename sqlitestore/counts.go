package sqlitestore

import (
	"context"
	"fmt"
	"strings"

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

// qSessionCount reads the session counter (a primary-key search).
const qSessionCount = `SELECT n FROM row_counts WHERE name = 'sessions'`

// countsVersion is the schema version that adds the counters, from the
// migrations' names, so that renumbering them changes nothing here.
func countsVersion() (int, error) {
	ms, err := sqlitedb.LoadMigrations(Migrations())
	if err != nil {
		return 0, err
	}
	for _, m := range ms {
		if strings.Contains(m.Name, "row_counts") {
			return m.Version, nil
		}
	}
	return 0, fmt.Errorf("no row_counts migration")
}

// ReadCounts reads the counts of a cortex database opened with sqlitedb
// (a store's DB, or an ops command's). ok is false for a database whose
// schema predates the counters.
func ReadCounts(ctx context.Context, db *sqlitedb.DB) (c Counts, ok bool, err error) {
	want, err := countsVersion()
	if err != nil {
		return Counts{}, false, fmt.Errorf("read counts: %w", err)
	}
	have, err := db.UserVersion(ctx)
	if err != nil {
		return Counts{}, false, fmt.Errorf("read counts: %w", err)
	}
	if have < want {
		return Counts{}, false, nil
	}
	err = db.Read(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, qSessionCount).Scan(&c.Sessions)
	})
	if err != nil {
		return Counts{}, false, fmt.Errorf("read counts: %w", err)
	}
	return c, true, nil
}
