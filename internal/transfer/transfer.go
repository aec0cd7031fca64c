// Package transfer copies a cortex database from one storage engine to
// another, faithfully (ids, versions, times, TTLs, counters, metadata and
// state bytes as stored), and verifies the copy. It is the engine behind
// `cortex migrate`.
//
// # Usage
//
//	res, err := transfer.Migrate(ctx, sqliteStore, pgStore, transfer.Options{})
//	if err != nil { … }
//	if !res.Verify.OK() { … res.Verify.Differences … }
//
// # Idempotence
//
// Every write is an upsert keyed by the row's primary key (sessions by id,
// snapshots by (session id, version)), so a copy interrupted at any point
// can simply run again: it rewrites what was copied and duplicates nothing.
//
// An upsert would also overwrite what the destination holds of its own, so
// Migrate first compares both sides and refuses, writing nothing
// (ErrDestinationAhead), a destination with a session the source lacks,
// with more snapshots or a later version than the source's, or whose
// latest snapshot of a session holds another state than the source's of
// that version (both took writes since an earlier run): writes made to the
// destination, or an unrelated database. A destination behind the source
// (an interrupted run) is what a rerun finishes. Session rows are not
// compared: metadata or a TTL changed on the destination is overwritten.
//
// # Consistency
//
// The source is read in pages, each its own read: stop the writers of the
// source first. Verify then compares, per session, the snapshot rows and the
// latest version counted on both sides, and reports every difference.
package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cortex-db/cortex/state"
)

// Defaults of Options.
const (
	DefaultBatchSize  = 1000
	DefaultBatchBytes = 32 << 20
	// MaxDifferences is the number of differences a Report lists; it counts
	// them all.
	MaxDifferences = 100
)

// Options configure Migrate, Copy and Verify. The zero value means the
// defaults.
type Options struct {
	// BatchSize is the most rows one page reads and one transaction
	// writes; 0 means DefaultBatchSize.
	BatchSize int
	// BatchBytes bounds the state bytes of a snapshot page, roughly: pages
	// shrink when states are large; 0 means DefaultBatchBytes.
	BatchBytes int64
	// Progress, when not nil, is called after each batch, from one
	// goroutine at a time.
	Progress func(Progress)
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.Progress == nil {
		o.Progress = func(Progress) {}
	}
	return o
}

// Phases of a migration, as Progress reports them.
const (
	PhaseCount     = "count"
	PhaseSessions  = "sessions"
	PhaseSnapshots = "snapshots"
	PhaseVerify    = "verify"
)

// Progress is how far a phase got. Total is 0 when unknown.
type Progress struct {
	Phase string `json:"phase"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
}

// Counts are the rows a copy wrote.
type Counts struct {
	Sessions   int64 `json:"sessions"`
	Snapshots  int64 `json:"snapshots"`
	StateBytes int64 `json:"state_bytes"`
}

// Result is what Migrate did and found.
type Result struct {
	Copied     Counts        `json:"copied"`
	Verify     Report        `json:"verify"`
	Duration   time.Duration `json:"-"`
	DurationMS int64         `json:"duration_ms"`
}

// Report compares two databases' sessions by their tallies.
type Report struct {
	SourceSessions  int64 `json:"source_sessions"`
	DestSessions    int64 `json:"dest_sessions"`
	SourceSnapshots int64 `json:"source_snapshots"`
	DestSnapshots   int64 `json:"dest_snapshots"`
	// DifferenceCount counts the sessions that differ; Differences lists
	// the first MaxDifferences of them, by id.
	DifferenceCount int          `json:"difference_count"`
	Differences     []Difference `json:"differences,omitempty"`
}

// OK reports whether both sides hold the same sessions with the same
// snapshot counts and latest versions.
func (r Report) OK() bool {
	return r.DifferenceCount == 0 && r.SourceSessions == r.DestSessions && r.SourceSnapshots == r.DestSnapshots
}

// Difference is one session that differs; Source or Dest is nil when the
// session is missing on that side.
type Difference struct {
	SessionID string              `json:"session_id"`
	Source    *state.SessionTally `json:"source,omitempty"`
	Dest      *state.SessionTally `json:"dest,omitempty"`
}

func (d Difference) String() string {
	switch {
	case d.Dest == nil:
		return fmt.Sprintf("session %s: missing in the destination (source: %d snapshots, latest version %d)", d.SessionID, d.Source.Snapshots, d.Source.LatestVersion)
	case d.Source == nil:
		return fmt.Sprintf("session %s: only in the destination (%d snapshots, latest version %d)", d.SessionID, d.Dest.Snapshots, d.Dest.LatestVersion)
	}
	return fmt.Sprintf("session %s: source has %d snapshots, latest version %d; destination has %d, latest version %d",
		d.SessionID, d.Source.Snapshots, d.Source.LatestVersion, d.Dest.Snapshots, d.Dest.LatestVersion)
}

// Destination is a store a migration writes and then verifies.
type Destination interface {
	state.Exporter
	state.Importer
}

// Migrate counts the source, copies it into dst (Copy) and compares both
// (Verify). A difference is not an error: check Result.Verify.OK. Errors
// are the stores', naming the step; running Migrate again after one
// duplicates nothing.
func Migrate(ctx context.Context, src state.Exporter, dst Destination, opts Options) (Result, error) {
	start := time.Now()
	opts = opts.withDefaults()
	var res Result
	totals, err := tallyAll(ctx, src, opts, PhaseCount, 0)
	if err != nil {
		return res, fmt.Errorf("count the source: %w", err)
	}
	var sessions, snapshots int64
	for _, t := range totals {
		sessions++
		snapshots += t.Snapshots
	}
	dstTotals, err := tallyAll(ctx, dst, opts, PhaseCount, sessions)
	if err != nil {
		return res, fmt.Errorf("count the destination: %w", err)
	}
	if err := checkNotAhead(totals, dstTotals); err != nil {
		return res, err
	}
	if err := checkSameHistory(ctx, src, dst, dstTotals, opts); err != nil {
		return res, err
	}
	if res.Copied, err = copyAll(ctx, src, dst, opts, sessions, snapshots); err != nil {
		return res, err
	}
	if res.Verify, err = Verify(ctx, src, dst, opts); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	res.DurationMS = res.Duration.Milliseconds()
	return res, nil
}

// Copy copies every session, then every snapshot, of src into dst in
// batches, as upserts.
func Copy(ctx context.Context, src state.Exporter, dst state.Importer, opts Options) (Counts, error) {
	return copyAll(ctx, src, dst, opts.withDefaults(), 0, 0)
}

func copyAll(ctx context.Context, src state.Exporter, dst state.Importer, opts Options, totalSessions, totalSnapshots int64) (Counts, error) {
	var c Counts
	// Sessions first: snapshots reference them.
	after := ""
	for {
		page, err := src.ExportSessions(ctx, after, opts.BatchSize)
		if err != nil {
			return c, fmt.Errorf("read sessions after %q: %w", after, err)
		}
		if len(page) == 0 {
			break
		}
		if err := dst.ImportSessions(ctx, page); err != nil {
			return c, fmt.Errorf("write sessions: %w", err)
		}
		c.Sessions += int64(len(page))
		opts.Progress(Progress{Phase: PhaseSessions, Done: c.Sessions, Total: max(totalSessions, c.Sessions)})
		if len(page) < opts.BatchSize {
			break
		}
		after = page[len(page)-1].ID
	}

	// Snapshots: one goroutine reads the next page while this one writes.
	type page struct {
		rows []state.ExportedSnapshot
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan page, 2)
	go func() {
		defer close(pages)
		afterID, afterVersion, limit := "", int64(0), opts.BatchSize
		for {
			rows, err := src.ExportSnapshots(ctx, afterID, afterVersion, limit)
			if err != nil {
				err = fmt.Errorf("read snapshots after %q version %d: %w", afterID, afterVersion, err)
			}
			select {
			case pages <- page{rows, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(rows) < limit {
				return
			}
			last := rows[len(rows)-1]
			afterID, afterVersion = last.SessionID, last.Version
			// Keep a page's states near BatchBytes.
			var bytes int64
			for _, r := range rows {
				bytes += int64(len(r.State))
			}
			avg := max(bytes/int64(len(rows)), 1)
			limit = int(min(int64(opts.BatchSize), max(opts.BatchBytes/avg, 1)))
		}
	}()
	for p := range pages {
		if p.err != nil {
			return c, p.err
		}
		if len(p.rows) == 0 {
			continue
		}
		if err := dst.ImportSnapshots(ctx, p.rows); err != nil {
			return c, fmt.Errorf("write snapshots: %w", err)
		}
		c.Snapshots += int64(len(p.rows))
		for _, r := range p.rows {
			c.StateBytes += int64(len(r.State))
		}
		opts.Progress(Progress{Phase: PhaseSnapshots, Done: c.Snapshots, Total: max(totalSnapshots, c.Snapshots)})
	}
	return c, ctx.Err()
}

// tallyAll reads every session's tally from e, by id.
func tallyAll(ctx context.Context, e state.Exporter, opts Options, phase string, total int64) (map[string]state.SessionTally, error) {
	out := map[string]state.SessionTally{}
	after := ""
	for {
		page, err := e.TallySessions(ctx, after, opts.BatchSize)
		if err != nil {
			return nil, fmt.Errorf("tally sessions after %q: %w", after, err)
		}
		for _, t := range page {
			out[t.SessionID] = t
		}
		opts.Progress(Progress{Phase: phase, Done: int64(len(out)), Total: max(total, int64(len(out)))})
		if len(page) < opts.BatchSize {
			return out, nil
		}
		after = page[len(page)-1].SessionID
	}
}

// Verify compares src and dst session by session: both must hold the same
// sessions, each with the same number of snapshot rows and the same latest
// version. The engines may order ids differently, so each side is read
// whole into memory (about 100 bytes a session).
func Verify(ctx context.Context, src, dst state.Exporter, opts Options) (Report, error) {
	opts = opts.withDefaults()
	var r Report
	a, err := tallyAll(ctx, src, opts, PhaseVerify, 0)
	if err != nil {
		return r, fmt.Errorf("verify: read the source: %w", err)
	}
	b, err := tallyAll(ctx, dst, opts, PhaseVerify, int64(len(a)))
	if err != nil {
		return r, fmt.Errorf("verify: read the destination: %w", err)
	}
	r.SourceSessions, r.DestSessions = int64(len(a)), int64(len(b))
	var diffs []Difference
	for id, ta := range a {
		r.SourceSnapshots += ta.Snapshots
		tb, ok := b[id]
		switch {
		case !ok:
			diffs = append(diffs, Difference{SessionID: id, Source: &ta})
		case ta != tb:
			diffs = append(diffs, Difference{SessionID: id, Source: &ta, Dest: &tb})
		}
	}
	for id, tb := range b {
		r.DestSnapshots += tb.Snapshots
		if _, ok := a[id]; !ok {
			diffs = append(diffs, Difference{SessionID: id, Dest: &tb})
		}
	}
	sort.Slice(diffs, func(i, j int) bool { return diffs[i].SessionID < diffs[j].SessionID })
	r.DifferenceCount = len(diffs)
	r.Differences = diffs[:min(len(diffs), MaxDifferences)]
	return r, nil
}

// ErrDestinationAhead: the destination holds rows the source does not
// have; Migrate refuses to overwrite them and writes nothing.
var ErrDestinationAhead = errors.New("the destination holds writes the source does not have")

// checkNotAhead returns ErrDestinationAhead, naming the first sessions by
// id, when dst has a session src lacks, or more snapshots or a later
// version in a session than src.
func checkNotAhead(src, dst map[string]state.SessionTally) error {
	var ahead []Difference
	for id, tb := range dst {
		ta, ok := src[id]
		switch {
		case !ok:
			ahead = append(ahead, Difference{SessionID: id, Dest: &tb})
		case tb.Snapshots > ta.Snapshots || tb.LatestVersion > ta.LatestVersion:
			ahead = append(ahead, Difference{SessionID: id, Source: &ta, Dest: &tb})
		}
	}
	if len(ahead) == 0 {
		return nil
	}
	sort.Slice(ahead, func(i, j int) bool { return ahead[i].SessionID < ahead[j].SessionID })
	lines := make([]string, len(ahead))
	for i, d := range ahead {
		lines[i] = d.String()
	}
	return aheadError("copying would overwrite or strand them", lines)
}

// aheadError is ErrDestinationAhead with why, listing the first five of
// lines (one a session, by id).
func aheadError(why string, lines []string) error {
	const show = 5
	more := ""
	if len(lines) > show {
		more = fmt.Sprintf("\n  … and %d more", len(lines)-show)
	}
	return fmt.Errorf("%w (%d sessions); %s, so nothing was written:\n  %s%s",
		ErrDestinationAhead, len(lines), why, strings.Join(lines[:min(len(lines), show)], "\n  "), more)
}

// checkSameHistory returns ErrDestinationAhead, naming the first sessions,
// when the destination's latest snapshot of a session is not the source's
// snapshot of that version (another state): the histories split, and the
// copy would overwrite the destination's. It reads two snapshots per
// session the destination holds snapshots of, so it costs nothing on an
// empty destination. A version the source no longer has (pruned) is not a
// split: the copy leaves it as it is.
func checkSameHistory(ctx context.Context, src, dst state.Exporter, dstTotals map[string]state.SessionTally, opts Options) error {
	ids := make([]string, 0, len(dstTotals))
	for id, t := range dstTotals {
		if t.LatestVersion > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var split []string
	for i, id := range ids {
		v := dstTotals[id].LatestVersion
		b, err := exportOne(ctx, dst, id, v)
		if err != nil {
			return fmt.Errorf("read the destination's session %s: %w", id, err)
		}
		a, err := exportOne(ctx, src, id, v)
		if err != nil {
			return fmt.Errorf("read the source's session %s: %w", id, err)
		}
		if a != nil && b != nil && !bytes.Equal(a.State, b.State) {
			split = append(split, fmt.Sprintf("session %s: version %d holds another state in the destination than in the source", id, v))
		}
		if i%opts.BatchSize == opts.BatchSize-1 || i == len(ids)-1 {
			opts.Progress(Progress{Phase: PhaseCount, Done: int64(i + 1), Total: int64(len(ids))})
		}
	}
	if len(split) == 0 {
		return nil
	}
	return aheadError("copying would overwrite them", split)
}

// exportOne reads snapshot version of session id from e; nil when there is
// none.
func exportOne(ctx context.Context, e state.Exporter, id string, version int64) (*state.ExportedSnapshot, error) {
	rows, err := e.ExportSnapshots(ctx, id, version-1, 1)
	if err != nil {
		return nil, err
	}
	if len(rows) == 1 && rows[0].SessionID == id && rows[0].Version == version {
		return &rows[0], nil
	}
	return nil, nil
}

// ErrDifferent is returned by callers that treat a failed verification as
// an error (cortex migrate does).
var ErrDifferent = errors.New("source and destination differ")
