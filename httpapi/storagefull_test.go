package httpapi_test

import (
	"testing"

	"github.com/cortex-db/cortex/sqlitedb"
)

// setMaxPages caps the database at its current page count on the writer
// connection, so the next growth fails with SQLITE_FULL.
func setMaxPages(t *testing.T, db *sqlitedb.DB) {
	t.Helper()
	err := db.Write(t.Context(), func(tx *sqlitedb.Tx) error {
		var n int64
		if err := tx.QueryRow(t.Context(), "PRAGMA page_count").Scan(&n); err != nil {
			return err
		}
		_, err := tx.Exec(t.Context(), "PRAGMA max_page_count = "+itoa(n))
		return err
	})
	if err != nil {
		t.Fatalf("set max_page_count: %v", err)
	}
}

func itoa(n int64) string {
	b := []byte{}
	if n == 0 {
		return "0"
	}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
