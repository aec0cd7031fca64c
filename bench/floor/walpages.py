#!/usr/bin/env python3
"""Pages each commit writes to the WAL, by b-tree: why an append costs ~8 KB of WAL.

Usage: bench/floor/walpages.py DB
  (run by `scripts/sqlite-floor -pages`; DB is a database whose process exited
  without a checkpoint, so its -wal file still holds the last commits)

It reads the -wal file's frames of the current generation (the header's salt),
cuts them into commits at each commit frame, and names each frame's page by
its b-tree, from SQLite's dbstat table (the sqlite3 command-line tool, run on
a copy, so the WAL is left as it is). A commit writes each page it changed
once: frames per commit by b-tree are the pages the commit touched. The first
commit of the generation is left out (it may follow a checkpoint mid-group).
Stdlib only.
"""
import collections
import os
import shutil
import struct
import subprocess
import sys
import tempfile


def pagemap(db):
    """page number -> b-tree name, from dbstat on a copy of db and its WAL."""
    with tempfile.TemporaryDirectory() as d:
        copy = os.path.join(d, "copy.db")
        shutil.copy(db, copy)
        shutil.copy(db + "-wal", copy + "-wal")
        out = subprocess.run(["sqlite3", copy, "SELECT pageno, name FROM dbstat"],
                             check=True, capture_output=True, text=True).stdout
    names = {}
    for line in out.splitlines():
        p, n = line.split("|", 1)
        names[int(p)] = n
    return names


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: walpages.py DB")
    db = sys.argv[1]
    names = pagemap(db)
    wal = open(db + "-wal", "rb").read()
    _, _, psz, _, s1, s2, _, _ = struct.unpack(">8I", wal[:32])
    off, cur, commits = 32, collections.Counter(), []
    while off + 24 + psz <= len(wal):
        pg, size, f1, f2 = struct.unpack(">4I", wal[off:off + 16])
        if (f1, f2) != (s1, s2):
            break
        cur[names.get(pg, "(free or new)")] += 1
        if size:
            commits.append(cur)
            cur = collections.Counter()
        off += 24 + psz
    commits = commits[1:]
    if not commits:
        sys.exit("walpages: no complete commit in the -wal file")
    tot = collections.Counter()
    for c in commits:
        tot.update(c)
    n = len(commits)
    print(f"walpages: {n} commits; pages written per commit, by b-tree:")
    for k, v in tot.most_common():
        print(f"  {k:40s} {v / n:7.2f}")
    print(f"  {'total':40s} {sum(tot.values()) / n:7.2f}  ({sum(tot.values()) / n * (psz + 24) / 1024:.0f} KiB of WAL per commit)")


if __name__ == "__main__":
    main()
