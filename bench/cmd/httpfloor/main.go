// Command httpfloor is the absolute floor of an HTTP answer on a machine: a
// bare net/http server whose one handler answers every request with a
// 16-byte JSON body, no routing, no middleware, no store. scripts/bench
// runs wrk against it beside cortex serve, in the same run, so that the
// share of an append's cost that net/http, loopback TCP and the load
// generator take is measured, not assumed:
//
//	go run ./bench/cmd/httpfloor --addr 127.0.0.1:18081
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "address to listen on")
	flag.Parse()
	body := []byte(`{"status":"ok"}` + "\n")
	err := http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, "httpfloor:", err)
	os.Exit(1)
}
