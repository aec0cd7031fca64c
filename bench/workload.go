package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Workload names what the workers of a step do.
type Workload string

// The workloads.
const (
	Append      Workload = "append"       // append a snapshot, 512-byte states
	AppendLarge Workload = "append-large" // append a snapshot, 64 KiB states
	Latest      Workload = "latest"       // read the latest snapshot
	History     Workload = "history"      // read a page of history
	Mixed       Workload = "mix"          // latest, append and history by Mix
)

// Workloads lists every workload, in the order the help text shows them.
var Workloads = []Workload{Append, AppendLarge, Latest, History, Mixed}

// ParseWorkload returns the workload named s, or an error listing them.
func ParseWorkload(s string) (Workload, error) {
	for _, w := range Workloads {
		if string(w) == s {
			return w, nil
		}
	}
	names := make([]string, len(Workloads))
	for i, w := range Workloads {
		names[i] = string(w)
	}
	return "", fmt.Errorf("unknown workload %q: want one of %s", s, strings.Join(names, ", "))
}

// DefaultStateBytes is the state size of a workload when Options gives
// none: 64 KiB for append-large, 512 bytes for the others.
func (w Workload) DefaultStateBytes() int {
	if w == AppendLarge {
		return 64 << 10
	}
	return 512
}

// needsHistory reports whether the workload reads history pages, so its
// sessions should start with more than one snapshot.
func (w Workload) needsHistory(m Mix) bool {
	return w == History || (w == Mixed && m.History > 0)
}

// Op is one kind of operation.
type Op int

// The operations.
const (
	OpAppend Op = iota
	OpLatest
	OpHistory
	numOps
)

func (o Op) String() string {
	return [...]string{"append", "latest", "history"}[o]
}

// Mix weighs the operations of the mix workload; the zero value means
// DefaultMix.
type Mix struct {
	Latest, Append, History int
}

// DefaultMix is 70% latest reads, 20% appends, 10% history pages.
var DefaultMix = Mix{Latest: 70, Append: 20, History: 10}

// ParseMix reads "latest=70,append=20,history=10" (missing names weigh 0).
func ParseMix(s string) (Mix, error) {
	var m Mix
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(val)
		if !ok || err != nil || n < 0 {
			return Mix{}, fmt.Errorf("mix %q: want name=weight pairs such as latest=70,append=20,history=10", s)
		}
		switch name {
		case "latest":
			m.Latest = n
		case "append":
			m.Append = n
		case "history":
			m.History = n
		default:
			return Mix{}, fmt.Errorf("mix %q: unknown operation %q (want latest, append or history)", s, name)
		}
	}
	if m.Latest+m.Append+m.History == 0 {
		return Mix{}, fmt.Errorf("mix %q: the weights add up to 0", s)
	}
	return m, nil
}

func (m Mix) String() string {
	return fmt.Sprintf("latest=%d,append=%d,history=%d", m.Latest, m.Append, m.History)
}

// picker chooses each operation of a workload.
type picker struct {
	w   Workload
	mix Mix
	sum int
}

func newPicker(w Workload, m Mix) picker {
	return picker{w: w, mix: m, sum: m.Latest + m.Append + m.History}
}

func (p picker) pick(r *rand.Rand) Op {
	switch p.w {
	case Append, AppendLarge:
		return OpAppend
	case Latest:
		return OpLatest
	case History:
		return OpHistory
	}
	n := r.IntN(p.sum)
	switch {
	case n < p.mix.Latest:
		return OpLatest
	case n < p.mix.Latest+p.mix.Append:
		return OpAppend
	}
	return OpHistory
}

// MakeState returns a JSON object of exactly n bytes (at least 12):
// {"data":"…"} with printable filler.
func MakeState(n int) []byte {
	const head, tail = `{"data":"`, `"}`
	n = max(n, len(head)+len(tail)+1)
	b := make([]byte, 0, n)
	b = append(b, head...)
	for i := 0; len(b) < n-len(tail); i++ {
		b = append(b, 'a'+byte(i%26))
	}
	return append(b, tail...)
}
