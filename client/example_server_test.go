package client_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/sqlitestore"
)

var (
	exampleOnce sync.Once
	exampleURL  string
)

// startServer runs the examples' cortex server: the real HTTP API on a
// SQLite file in a temporary folder, in this process (what `cortex serve
// --db <file>` runs). It lives until the test binary exits.
func startServer() string {
	exampleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cortex-client-example-")
		if err != nil {
			panic(err)
		}
		st, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "cortex.db"), sqlitestore.Config{})
		if err != nil {
			panic(err)
		}
		s, err := httpapi.New(httpapi.Config{Store: st})
		if err != nil {
			panic(err)
		}
		exampleURL = httptest.NewServer(s).URL
	})
	return exampleURL
}
