#!/usr/bin/env python3
"""Per-request CPU breakdown of a cortex server from `perf script` output.

Usage: http-breakdown.py NAME=PERF_SCRIPT_FILE:SERVER_CPU_US:LOADGEN_CPU_US ...

Each argument is one phase (e.g. the 415 and the appends) recorded with
`perf record -g -p PID` on the server under wrk, printed with `perf script`;
SERVER_CPU_US is the server's CPU per request over the phase (utime+stime
from /proc/PID/stat ÷ requests) and LOADGEN_CPU_US the load generator's
(perf stat's task-clock of wrk ÷ requests). Every sample is put in one group
by the frames of its stack (the first rule that matches, in the order of
GROUPS), and a group's µs per request is its share of the samples times the
server's CPU per request. The last column is the last phase minus the one before it:
what an append costs beyond the server's cheapest answer, group by group.
Stdlib only.
"""
import re
import sys

# (group, test on the stack: a list of symbol names, leaf first). The first
# group whose test passes takes the sample.
def has(stack, *needles):
    return any(n in f for f in stack for n in needles)


WRITER = ("sqlitedb.(*writer).loop", "sqlitedb.(*checkpointer).loop", "sqlitedb.Open.func3")
SCHED = (
    "runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.gopark",
    "runtime.goready", "runtime.ready", "runtime.futex", "runtime.netpoll", "runtime.mcall",
    "runtime.Gosched", "runtime.gosched", "runtime.notewakeup", "runtime.notesleep",
    "runtime.wakep", "runtime.startm", "runtime.stopm", "runtime.sysmon", "runtime.usleep",
    "runtime.osyield", "runtime.goschedImpl", "runtime.chanparkcommit", "runtime.semrelease",
    "runtime.semacquire", "runtime.lock2", "runtime.unlock2", "runtime.runqgrab",
    "runtime.stealWork", "runtime.resetspinning", "runtime.execute", "runtime.gogo",
    "runtime.goexit0", "runtime.exitsyscall", "runtime.entersyscall", "runtime.reentersyscall",
    "runtime.handoffp", "runtime.retake", "runtime.preemptone", "runtime.injectglist",
    "runtime.checkTimers", "runtime.(*timers)", "runtime.(*timer)", "runtime.resettimer",
    "runtime.modtimer", "runtime.addtimer", "runtime.deltimer", "runtime.nanotime",
    "internal/poll.runtime_pollSetDeadline", "runtime.poll_runtime_pollSetDeadline",
    "runtime.netpollblock", "runtime.netpollunblock", "runtime.netpollready",
    "runtime.selectgo", "runtime.chansend", "runtime.chanrecv", "runtime.send", "runtime.recv",
)
GC = ("runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge",
      "runtime.gcDrain", "runtime.gcStart", "runtime.gcMarkDone", "runtime.gcMarkTermination",
      "runtime.markroot", "runtime.scanobject", "runtime.sweepone", "runtime.(*mspan).sweep",
      "runtime.gcStopTheWorld", "runtime.stopTheWorld", "runtime.forEachP", "runtime.wbBufFlush",
      "runtime.gcWriteBarrier", "runtime.bulkBarrier", "runtime.(*gcWork)", "runtime.greyobject")


C_SUFFIX = re.compile(r"\.(constprop|isra|part|cold)(\.\d+)?$")


def is_c(name):
    """A user-space frame of C code (SQLite, libc): Go's names all carry a
    package path and a dot; perf cannot walk C frames compiled without frame
    pointers, so those stacks end in [unknown] and never reach the writer's
    Go frames."""
    if name.startswith(("k:", "v:")):
        return False  # the kernel's, the vDSO's (clock_gettime)
    if name.endswith("body") and "." not in name:
        return False  # Go's assembly: memeqbody, indexbytebody, aeshashbody
    return name == "[unknown]" or "." not in name or bool(C_SUFFIX.search(name))


def classify(stack, kernel_leaf):
    if has(stack, *GC):
        return "GC"
    if has(stack, *WRITER) or any(is_c(f) for f in stack):
        # The writer goroutine: its hand-off to the callers (one channel
        # send and wake-up each) and its Gosched before cutting a group are
        # wake-ups; the rest (statements, commit, checkpoints, the kernel
        # under SQLite's writes) is the writer's own work.
        if has(stack, "sqlitedb.(*writer).finish", "runtime.Gosched", "runtime.goschedImpl") or (
            has(stack, *SCHED) and not has(stack, "sqlite3", "_Cfunc_", "cgocall")
        ):
            return "wake-ups: the writer answering callers"
        return "writer + SQLite (its own goroutine)"
    if has(stack, "net/http.(*connReader).backgroundRead", "net/http.(*connReader).startBackgroundRead",
           "net/http.(*connReader).abortPendingRead"):
        # net/http watches the connection while a handler runs (a client
        # that goes away cancels the request's context): a goroutine per
        # request, its read, and the deadline that stops it.
        return "net/http's connection watch while the handler runs"
    if has(stack, *SCHED) or has(stack, "epoll", "futex", "schedule", "finish_task_switch"):
        return "scheduler, netpoll, timers, wake-ups"
    if kernel_leaf:
        if has(stack, "sqlitestore.", "sqlitedb."):
            return "store call (caller side)"
        return "kernel: TCP, syscalls, faults"
    if has(stack, "httpapi.readJSON"):
        return "body read"
    if has(stack, "sqlitestore.", "sqlitedb.", "cortex/state."):
        return "store call (caller side)"
    if has(stack, "httpapi.(*Server).decodeAppend", "httpapi.splitAppend", "httpapi.checkStrict",
           "httpapi.pathID", "httpapi.decodeBody"):
        return "JSON decode + validation"
    if has(stack, "httpapi.writeAppended", "httpapi.(*Server).fail", "httpapi.writeProblem",
           "httpapi.writeJSON", "httpapi.setAppendedHeaders"):
        return "response encoding (201 or problem)"
    if has(stack, "httpapi.(*route).observe", "httpapi.(*httpMetrics)", "log/slog", "prometheus",
           "httpapi.(*Server).logRequest", "httpapi.(*Server).log"):
        return "metrics, logging"
    if has(stack, "cortex/httpapi."):
        return "routing, auth, in-flight charge"
    if has(stack, "net/http.", "bufio.", "net/textproto.", "net.(*conn)", "internal/poll.", "net.(*netFD)"):
        return "net/http: parse, headers, write"
    if has(stack, "runtime.mallocgc", "runtime.newobject", "runtime.makeslice", "runtime.growslice"):
        return "other allocation"
    return "other"


ORDER = [
    "kernel: TCP, syscalls, faults",
    "net/http: parse, headers, write",
    "net/http's connection watch while the handler runs",
    "scheduler, netpoll, timers, wake-ups",
    "wake-ups: the writer answering callers",
    "body read",
    "JSON decode + validation",
    "store call (caller side)",
    "writer + SQLite (its own goroutine)",
    "response encoding (201 or problem)",
    "metrics, logging",
    "routing, auth, in-flight charge",
    "GC",
    "other allocation",
    "other",
]


def samples(path):
    stack, kernel_leaf, first = [], False, True
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if stack:
                    yield stack, kernel_leaf
                stack, first = [], True
                continue
            if not line[0].isspace():
                continue  # the sample's header line
            parts = line.split(None, 1)
            if len(parts) < 2:
                continue
            sym = parts[1].rsplit(" (", 1)
            name = sym[0].split("+0x")[0]
            dso = sym[1] if len(sym) > 1 else ""
            kernel = "kernel" in dso or parts[0].startswith("ffffffff")
            if first:
                kernel_leaf = kernel
                first = False
            stack.append("k:" + name if kernel else "v:" + name if "vdso" in dso else name)
    if stack:
        yield stack, kernel_leaf


def main(args):
    if not args:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    phases = []
    for a in args:
        name, rest = a.split("=", 1)
        path, cpu, gen = rest.rsplit(":", 2)
        counts, total = {}, 0
        for stack, kl in samples(path):
            g = classify(stack, kl)
            counts[g] = counts.get(g, 0) + 1
            total += 1
        phases.append((name, counts, total, float(cpu), float(gen)))
    head = "| µs of CPU per request | " + " | ".join(p[0] for p in phases)
    if len(phases) > 1:
        head += " | %s − %s" % (phases[-1][0], phases[-2][0])
    print(head + " |")
    print("|---" + "|---:" * (len(phases) + (1 if len(phases) > 1 else 0)) + "|")

    def us(p, g):
        return p[1].get(g, 0) / p[2] * p[3] if p[2] else 0.0

    for g in ORDER:
        if not any(p[1].get(g) for p in phases):
            continue
        row = "| %s | " % g + " | ".join("%.1f" % us(p, g) for p in phases)
        if len(phases) > 1:
            row += " | %+.1f" % (us(phases[-1], g) - us(phases[-2], g))
        print(row + " |")
    row = "| **server, total** | " + " | ".join("**%.1f**" % p[3] for p in phases)
    if len(phases) > 1:
        row += " | **%+.1f**" % (phases[-1][3] - phases[-2][3])
    print(row + " |")
    row = "| load generator (wrk) | " + " | ".join("%.1f" % p[4] for p in phases)
    if len(phases) > 1:
        row += " | %+.1f" % (phases[-1][4] - phases[-2][4])
    print(row + " |")
    print("| perf samples | " + " | ".join(str(p[2]) for p in phases) + (" | " if len(phases) > 1 else "") + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
