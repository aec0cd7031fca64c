#!/usr/bin/env python3
"""Split `perf script` samples of an append benchmark into where the CPU goes.

Usage: perf record -e cpu-clock -g -o P.data CMD; perf script -i P.data | bench/floor/perfsplit.py

Each sample is put in one bucket by its call chain (leaf first):
  sqlite        SQLite's C and the WAL shim (user space), incl. libc under it
  sqlite-kernel the kernel under SQLite's C (pwrite, fsync, fcntl locks, page faults of its memory)
  go-driver     mattn/go-sqlite3 and cgo's crossings (runtime.cgocall, entersyscall …)
  go-cortex     cortex's Go code (sqlitedb, sqlitestore, state) and the benchmark's callers
  go-runtime    the Go runtime: scheduler, GC, allocation, channels, maps, locks
  go-kernel     the kernel under the Go runtime (futex wake-ups, nanosleep, madvise)
  other         anything else
"""
import collections
import re
import sys

GO_CGO = ("runtime.cgocall", "runtime.asmcgocall", "runtime.entersyscall", "runtime.exitsyscall",
          "runtime.reentersyscall", "_cgo_", "runtime.cgoCheck", "runtime.cgoIsGoPointer", "runtime.cgoUse")


def is_go(sym):
    return "." in sym and (sym.startswith(("runtime.", "internal/", "sync.", "github.com/", "database/", "time.",
                                            "context.", "fmt.", "strings.", "sort.", "slices.", "math/", "encoding/",
                                            "strconv.", "errors.", "reflect.", "aeshash", "testing.", "os.", "syscall."))
                           or sym.startswith("gcWriteBarrier"))


def bucket(frames):
    # frames: list of (sym, dso), leaf first
    leaf, dso = frames[0]
    kernel = "kernel" in dso
    user = [(s, d) for s, d in frames if "kernel" not in d]
    first = user[0][0] if user else ""
    # The first Go frame above the leaf says who called into C or the kernel.
    if kernel:
        for s, d in user:
            if is_go(s):
                return "go-kernel" if not s.startswith(("runtime.cgocall", "runtime.asmcgocall")) and "go-sqlite3" not in s else "sqlite-kernel"
            return "sqlite-kernel"  # first user frame is C
        return "other"
    if any(first.startswith(p) for p in GO_CGO):
        return "go-driver"
    if "go-sqlite3" in first:
        return "go-driver"
    if is_go(first):
        if first.startswith(("github.com/cortex-db", "github.com/")):
            return "go-cortex"
        return "go-runtime"
    return "sqlite"


def main():
    counts = collections.Counter()
    frames = []
    total = 0
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                counts[bucket(frames)] += 1
                total += 1
            frames = []
            continue
        if line.startswith((" ", "\t")):
            m = re.match(r"\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)$", line)
            if m:
                sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
                frames.append((sym, m.group(2)))
    if frames:
        counts[bucket(frames)] += 1
        total += 1
    for k in ("sqlite", "sqlite-kernel", "go-driver", "go-cortex", "go-runtime", "go-kernel", "other"):
        print(f"{k:14s} {100 * counts[k] / max(total, 1):5.1f}%")
    print(f"{'samples':14s} {total}")


if __name__ == "__main__":
    main()
