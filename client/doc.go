// Package client is the Go client of cortex's HTTP API (`cortex serve`):
// sessions and their versioned JSON snapshots, over HTTP, with the API's
// contract (httpapi/openapi.json) behind every call.
//
// # Usage
//
//	c, err := client.New("http://127.0.0.1:8080", client.WithToken(os.Getenv("CORTEX_API_TOKEN")))
//	if err != nil { … }
//	s, err := c.PutSession(ctx, "agent-42", client.SessionInput{})
//	res, err := c.Append(ctx, "agent-42", client.AppendInput{State: map[string]any{"step": 1}})
//	latest, err := c.Latest(ctx, "agent-42")
//	for snap, err := range c.History(ctx, "agent-42", client.HistoryOptions{}) { … }
//
// # Errors
//
// An error answer of the server is a *Error, built from its problem
// document (RFC 9457): Status, Type (a urn:cortex:problem:<slug> URI),
// Title, Detail, Hint. Test it with errors.As, or with IsNotFound,
// IsConflict, IsPreconditionFailed, IsTooLarge, IsUnavailable. Other errors
// are the transport's (wrapped) or the context's.
//
// # Retries
//
// 503 and 429 answers (the server busy, storage away, too many watchers)
// are retried after the server's Retry-After, or an exponential backoff
// with jitter, at most RetryPolicy.MaxAttempts times in all and never past
// the context's deadline. Network failures are retried too, but only for
// requests that are safe to send twice: reads, PUT, DELETE, and appends,
// which carry an Idempotency-Key (made by the client unless given) so that
// an append whose answer was lost is answered, not appended twice, when it
// is sent again. Batch items get a key each.
//
// # Iterators
//
// Sessions, History and Watch return iter.Seq2 sequences: the first two
// follow next_cursor page by page; Watch follows the session's event
// stream and reconnects from the last version it saw, so that no snapshot
// event is lost or repeated.
//
// A Client is safe for concurrent use.
package client
