package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
)

// verifyOnly is `cortex restore --verify-only <file>`: check a restored
// file (litestream restore's output, a backup) before a server uses it,
// changing nothing: integrity_check passes, and its schema version is one
// this cortex knows (an older one is upgraded when a server opens it).
func verifyOnly(ctx context.Context, path string, asJSON bool, stdout io.Writer) error {
	if _, err := os.Stat(path); err != nil {
		return withHint(fmt.Errorf("verify %s: %w", path, err), "--verify-only <the restored file>")
	}
	inUse, err := sqlitedb.Held(ctx, path)
	if err != nil {
		return fmt.Errorf("verify %s: check whether it is in use: %w", path, err)
	}
	if inUse {
		return withHint(fmt.Errorf("verify %s: the file is in use by another process; --verify-only checks a restored copy before a server opens it", path), "restore to a new path (litestream restore -o <path>), then verify that")
	}
	migs, err := sqlitedb.LoadMigrations(sqlitestore.Migrations())
	if err != nil {
		return fmt.Errorf("verify %s: load migrations: %w", path, err)
	}
	latest := 0
	for _, m := range migs {
		latest = max(latest, m.Version)
	}
	version, err := sqlitedb.VerifyFile(ctx, path)
	if err != nil {
		if errors.Is(err, sqlitedb.ErrCorrupt) {
			return withHint(fmt.Errorf("verify %s: %w", path, err), "restore again from the replica (an earlier -timestamp or -txid), or from a backup")
		}
		return fmt.Errorf("verify %s: %w", path, err)
	}
	res := map[string]any{"path": path, "integrity": "ok", "schema_version": version, "latest_schema_version": latest}
	switch {
	case version == 0:
		return withHint(fmt.Errorf("verify %s: integrity ok but schema version 0: this is not a cortex database (or an empty one)", path), "check the restore's source and -o path")
	case version > latest:
		return withHint(fmt.Errorf("verify %s: integrity ok but schema version %d is newer than this cortex knows (%d)", path, version, latest), "use the cortex release that wrote it")
	case version < latest:
		res["note"] = fmt.Sprintf("schema %d is older: cortex serve upgrades it to %d when it opens the file", version, latest)
	}
	if asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "verified %s: integrity ok, schema version %d (latest %d)\n", path, version, latest)
	return nil
}
