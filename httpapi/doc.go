// Package httpapi serves a state.Store over HTTP/JSON: the v1 API of
// sessions and snapshots, the admin operations, health, readiness and
// Prometheus metrics.
//
// It depends only on package state. Storage-engine operations (statistics,
// health, checkpoints, backups, query plans) reach it through the small Ops
// interface, which the command implements with adapters over sqlitedb or
// pgstore; figures for metrics come from a StatsFunc the same way.
//
// # Usage
//
//	srv, err := httpapi.New(httpapi.Config{
//		Store:     store,            // a state.Store
//		Ops:       ops,              // optional: admin routes and /readyz
//		APIToken:  os.Getenv("TOKEN"),
//		BackupDir: "/var/backups/cortex",
//		Logger:    slog.Default(),
//		Registry:  reg,              // optional: a *prometheus.Registry
//	})
//	http.ListenAndServe("127.0.0.1:8080", srv)
//
// # Errors
//
// Every error is an application/problem+json document (RFC 9457) with type,
// title, status and detail. Domain errors map to statuses in one table
// (see StatusOf): state.ErrNotFound 404, state.ErrExists 409,
// state.ErrVersionConflict 412 with If-Match and 409 without,
// state.ErrIdempotencyMismatch 422 (an Idempotency-Key reused with a
// different request), state.ErrInvalid 400, state.ErrTooLarge 413
// (states over MaxStateBytes, metadata over MaxMetadataBytes),
// state.ErrUnavailable 503 with
// Retry-After, state.ErrStorageFull 507, ErrUnsupported 501; a request whose
// client went away is logged as 499.
//
// # Authentication
//
// With Config.APIToken set, every /v1 route needs "Authorization: Bearer
// <api token>"; the admin token is accepted there too. With
// Config.AdminToken set, /v1/admin routes need it (the API token is refused
// with 403). Without an admin token, /v1/admin accepts the API token: a
// deployment with one token has one secret. /healthz, /readyz and /metrics
// are never authenticated. Tokens are compared in constant time.
//
// # Concurrency
//
// A Server is safe for concurrent use; it holds no per-request state.
package httpapi
