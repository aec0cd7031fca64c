package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// BenchmarkServer_Append measures appends end to end through the HTTP API
// (keep-alive client and server in one process, a real SQLite file, request
// logging on as cortex serve has it), at 64 concurrent clients.
//
//	go test -run '^$' -bench Server_Append -benchtime 5s ./httpapi/
func BenchmarkServer_Append(b *testing.B) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "cortex.db"), sqlitestore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s, err := httpapi.New(httpapi.Config{
		Store:    st,
		Registry: prometheus.NewRegistry(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%04d", i)
		if _, err := st.CreateSession(context.Background(), state.SessionInput{ID: ids[i]}); err != nil {
			b.Fatal(err)
		}
	}
	body := []byte(`{"state":{"data":"` + strings.Repeat("x", 490) + `"}}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				req, _ := http.NewRequest("POST", srv.URL+"/v1/sessions/"+ids[(int(i)+g)%len(ids)]+"/snapshots", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}
