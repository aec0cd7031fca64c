package sqlitedb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
)

// WAL file format constants. https://www.sqlite.org/walformat.html
const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
	walMagicLE         = 0x377f0682 // checksums in little-endian words
	walMagicBE         = 0x377f0683 // checksums in big-endian words
)

// walDamage describes committed frames SQLite's recovery would drop.
type walDamage struct {
	badFrame     int64 // the first frame whose checksum fails (0-based)
	validCommits int64 // commits recovery keeps
	lostFrames   int64 // frames of this WAL generation after the bad one
	lostCommits  int64 // commit frames among bad and those after it
}

// checkWAL looks for a damaged frame in the -wal file left by a process
// that did not close the database: SQLite's recovery keeps the frames up to
// the first one whose checksum fails and silently drops everything after
// it, commits included. A damaged last frame alone is a torn write and is
// dropped as SQLite documents; a damaged frame followed by complete frames
// of the same WAL generation that include a commit means acknowledged
// commits would vanish. It reads the file and writes nothing.
func checkWAL(path string) (*walDamage, error) {
	// Go opens no -wal file: it is read through SQLite's default VFS,
	// with the xOpen/xRead/xClose SQLite itself uses (walbuf.go). Open
	// calls this before any connection of this DB exists.
	f, err := openWALReadOnly(path + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hdr [walHeaderSize]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, nil // empty or shorter than a header: nothing to recover
	}
	magic := binary.BigEndian.Uint32(hdr[0:4])
	if magic != walMagicLE && magic != walMagicBE {
		return nil, nil // SQLite ignores it as well: no frames were ever valid
	}
	bigEndian := magic == walMagicBE
	pageSize := int64(binary.BigEndian.Uint32(hdr[8:12]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return nil, nil
	}
	s0, s1 := walChecksum(bigEndian, hdr[:24], 0, 0)
	if s0 != binary.BigEndian.Uint32(hdr[24:28]) || s1 != binary.BigEndian.Uint32(hdr[28:32]) {
		return nil, nil // an invalid header: the WAL holds nothing recovery uses
	}
	salt1, salt2 := hdr[16:20], hdr[20:24]

	frame := make([]byte, walFrameHeaderSize+pageSize)
	d := walDamage{badFrame: -1}
	for i := int64(0); ; i++ {
		if _, err := f.ReadAt(frame, walHeaderSize+i*int64(len(frame))); err != nil {
			break // end of file (a partial last frame is a torn write)
		}
		fh := frame[:walFrameHeaderSize]
		if string(fh[8:12]) != string(salt1) || string(fh[12:16]) != string(salt2) {
			if d.badFrame < 0 {
				break // the end of this generation: older frames follow
			}
			continue
		}
		commit := binary.BigEndian.Uint32(fh[4:8]) != 0
		if d.badFrame >= 0 {
			d.lostFrames++
			if commit {
				d.lostCommits++
			}
			continue
		}
		c0, c1 := walChecksum(bigEndian, fh[:8], s0, s1)
		c0, c1 = walChecksum(bigEndian, frame[walFrameHeaderSize:], c0, c1)
		if c0 != binary.BigEndian.Uint32(fh[16:20]) || c1 != binary.BigEndian.Uint32(fh[20:24]) {
			d.badFrame = i
			if commit {
				d.lostCommits++
			}
			continue
		}
		s0, s1 = c0, c1
		if commit {
			d.validCommits++
		}
	}
	if d.badFrame < 0 || d.lostFrames == 0 || d.lostCommits == 0 {
		return nil, nil
	}
	return &d, nil
}

// walChecksum is SQLite's WAL checksum over data (a multiple of 8 bytes),
// continuing from s0, s1.
func walChecksum(bigEndian bool, data []byte, s0, s1 uint32) (uint32, uint32) {
	order := binary.ByteOrder(binary.LittleEndian)
	if bigEndian {
		order = binary.BigEndian
	}
	for i := 0; i+8 <= len(data); i += 8 {
		s0 += order.Uint32(data[i:]) + s1
		s1 += order.Uint32(data[i+4:]) + s0
	}
	return s0, s1
}

func (d *walDamage) Error() string {
	return fmt.Sprintf("the -wal file has a damaged frame (frame %d) followed by %d complete frames holding %d commits; SQLite's recovery would keep the %d commits before it and silently drop those",
		d.badFrame, d.lostFrames, d.lostCommits, d.validCommits)
}
