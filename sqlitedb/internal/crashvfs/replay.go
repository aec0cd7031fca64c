package crashvfs

import (
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Kind is a journal entry's kind.
type Kind int

// The kinds of journal entries (the numbers are crashvfs.c's).
const (
	OpWrite    Kind = 1 // Data written at Off
	OpSync     Kind = 2 // a completed sync of File
	OpTruncate Kind = 3 // File truncated to Off bytes
	OpDelete   Kind = 4 // File deleted
	OpMark     Kind = 5 // Mark: a test's marker
)

// Op is one journal entry.
type Op struct {
	Kind Kind
	File string // absolute path; empty for a Mark
	Off  int64
	Data []byte
	Mark int64
}

// Journal is what the VFS recorded, in the order the calls completed.
type Journal struct {
	Ops []Op
}

// SectorSize is the granularity at which an unsynced write is torn.
const SectorSize = 512

// Fate says what a power cut does to the writes, truncates not covered by
// a completed sync of their file.
type Fate int

const (
	// KeepAll keeps every completed write: a process crash, or a power
	// cut after the OS happened to write everything back.
	KeepAll Fate = iota
	// DropAll loses every unsynced write.
	DropAll
	// Random drops each unsynced write or truncate with probability 1/2,
	// independently (so a later one may survive an earlier: reordering),
	// and tears a third of the kept writes, keeping a random subset of
	// their 512-byte sectors.
	Random
)

func (f Fate) String() string {
	switch f {
	case KeepAll:
		return "keep-all"
	case DropAll:
		return "drop-all"
	}
	return "random"
}

// Replayer walks a journal forward and builds crash images.
//
// Deletes are taken as durable at once (SQLite deletes a -wal only after
// a checkpoint has synced the database). The -shm file is never part of
// an image: after a power cut SQLite rebuilds the WAL index from the -wal.
type Replayer struct {
	j       Journal
	pos     int
	synced  map[string][]byte // nil: absent
	pending map[string][]int  // unsynced ops of each file, by index
	acked   int64             // the last Mark before pos
	ackedAt map[string]int64  // file → the last Mark before its last sync
}

// NewReplayer starts a replay from files as they were when recording
// started (path → contents).
func NewReplayer(j Journal, initial map[string][]byte) *Replayer {
	r := &Replayer{j: j, synced: map[string][]byte{}, pending: map[string][]int{}, ackedAt: map[string]int64{}}
	for k, v := range initial {
		r.synced[k] = append([]byte(nil), v...)
	}
	return r
}

// Len is the number of journal entries.
func (r *Replayer) Len() int { return len(r.j.Ops) }

// Advance moves the crash point forward to just after entry n-1: entries
// [0, n) have completed.
func (r *Replayer) Advance(n int) {
	for ; r.pos < n && r.pos < len(r.j.Ops); r.pos++ {
		o := r.j.Ops[r.pos]
		switch o.Kind {
		case OpMark:
			r.acked = o.Mark
		case OpWrite, OpTruncate:
			r.pending[o.File] = append(r.pending[o.File], r.pos)
		case OpSync:
			img := r.synced[o.File]
			for _, i := range r.pending[o.File] {
				img = apply(img, r.j.Ops[i], nil)
			}
			r.synced[o.File] = img
			r.pending[o.File] = nil
			r.ackedAt[o.File] = r.acked
		case OpDelete:
			delete(r.synced, o.File)
			delete(r.pending, o.File)
		}
	}
}

// Acked is the value of the last Mark before the crash point (0 if none).
func (r *Replayer) Acked() int64 { return r.acked }

// AckedAtSync is the value of the last Mark before file's last completed
// sync before the crash point: the acknowledgements that sync covered.
func (r *Replayer) AckedAtSync(file string) int64 { return r.ackedAt[file] }

// Image returns the files as a power cut at the crash point leaves them,
// the unsynced entries treated by fate. The number of unsynced entries
// of all files is returned too.
func (r *Replayer) Image(fate Fate, rng *rand.Rand) (files map[string][]byte, unsynced int) {
	files = map[string][]byte{}
	for name, img := range r.synced {
		files[name] = append([]byte(nil), img...)
	}
	for name, idx := range r.pending {
		unsynced += len(idx)
		img, ok := files[name]
		for _, i := range idx {
			switch fate {
			case DropAll:
				continue
			case Random:
				if rng.IntN(2) == 0 {
					continue
				}
			}
			var tear *rand.Rand
			if fate == Random && rng.IntN(3) == 0 {
				tear = rng
			}
			img = apply(img, r.j.Ops[i], tear)
			ok = true
		}
		if ok {
			files[name] = img
		}
	}
	return files, unsynced
}

// apply applies a write or truncate to img; with tear set, a write keeps
// only a random subset of the sectors it covers (never the bytes beside
// it: SQLite's unix VFS promises powersafe overwrite).
func apply(img []byte, o Op, tear *rand.Rand) []byte {
	switch o.Kind {
	case OpTruncate:
		if int64(len(img)) > o.Off {
			return img[:o.Off]
		}
		return append(img, make([]byte, o.Off-int64(len(img)))...)
	case OpWrite:
		end := o.Off + int64(len(o.Data))
		if tear == nil {
			if int64(len(img)) < end {
				img = append(img, make([]byte, end-int64(len(img)))...)
			}
			copy(img[o.Off:], o.Data)
			return img
		}
		for s := o.Off; s < end; {
			next := (s/SectorSize + 1) * SectorSize
			if next > end {
				next = end
			}
			if tear.IntN(2) == 0 {
				if int64(len(img)) < next {
					img = append(img, make([]byte, next-int64(len(img)))...)
				}
				copy(img[s:next], o.Data[s-o.Off:next-o.Off])
			}
			s = next
		}
	}
	return img
}

// WriteImage writes files into dir under their base names, replacing
// what is there, and removes dir's -shm files.
func WriteImage(dir string, files map[string][]byte) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
