package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// Report is a whole run: the machine, the command, the settings and every
// step. Its JSON form is what `cortex bench --json` prints.
type Report struct {
	Machine  Machine  `json:"machine"`
	Date     string   `json:"date"`
	Command  string   `json:"command"`
	Args     []string `json:"args"`
	Settings Settings `json:"settings"`
	Steps    []Step   `json:"steps"`
	// Error is set when the run stopped early (an interrupt, a failed
	// set-up); Steps then holds the steps finished before.
	Error string `json:"error,omitempty"`
}

// Settings are the workload parameters of a run.
type Settings struct {
	Mode         string   `json:"mode"`
	Workload     Workload `json:"workload"`
	Mix          string   `json:"mix,omitempty"`
	Concurrency  []int    `json:"concurrency"`
	Duration     string   `json:"duration"`
	Warmup       string   `json:"warmup"`
	Sessions     int      `json:"sessions"`
	StateBytes   int      `json:"state_bytes"`
	HistoryDepth int      `json:"history_depth"`
	HistoryLimit int      `json:"history_limit"`
	Configs      []string `json:"configs"`
}

// NewSettings describes opts (defaults applied) for a report.
func NewSettings(mode string, opts Options, configs []Configuration) Settings {
	o := opts.withDefaults()
	s := Settings{
		Mode: mode, Workload: o.Workload, Concurrency: o.Concurrency,
		Duration: o.Duration.String(), Warmup: o.Warmup.String(),
		Sessions: o.Sessions, StateBytes: o.StateBytes,
		HistoryDepth: o.HistoryDepth, HistoryLimit: o.HistoryLimit,
	}
	if o.Workload == Mixed {
		s.Mix = o.Mix.String()
	}
	for _, c := range configs {
		s.Configs = append(s.Configs, c.Name)
	}
	return s
}

// Machine describes where a run ran.
type Machine struct {
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPU        string `json:"cpu"`
	MemBytes   int64  `json:"mem_bytes,omitempty"`
	OS         string `json:"os"`
	Kernel     string `json:"kernel"`
	Hostname   string `json:"hostname,omitempty"`
	Go         string `json:"go"`
}

// ThisMachine describes the machine the program runs on (CPU model from
// /proc/cpuinfo, kernel from uname).
func ThisMachine() Machine {
	m := Machine{
		Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(),
	}
	m.Hostname, _ = os.Hostname()
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		m.MemBytes = int64(si.Totalram) * int64(si.Unit)
	}
	return m
}

// NewReport starts a report of a run made by args (os.Args) now.
func NewReport(args []string, s Settings) *Report {
	return &Report{
		Machine: ThisMachine(), Date: time.Now().UTC().Format(time.RFC3339),
		Command: shellJoin(args), Args: args, Settings: s,
	}
}

// shellJoin quotes args for a shell where needed.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]{}~#!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for people: a header with the machine and
// settings, one row per step, the ratios to each baseline, and the error
// samples.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "cortex bench — %s, %d cores (GOMAXPROCS %d), %s, %s, %s\n", m.CPU, m.Cores, m.GOMAXPROCS, m.Kernel, m.Go, r.Date)
	st := r.Settings
	fmt.Fprintf(w, "workload %s", st.Workload)
	if st.Mix != "" {
		fmt.Fprintf(w, " (%s)", st.Mix)
	}
	fmt.Fprintf(w, ", mode %s, %d sessions, %d-byte states, %s per step (warm-up %s)\n\n", st.Mode, st.Sessions, st.StateBytes, st.Duration, st.Warmup)

	var baselines []string
	seen := map[string]bool{}
	for _, s := range r.Steps {
		for _, ra := range s.Ratios {
			if !seen[ra.Baseline] {
				seen[ra.Baseline] = true
				baselines = append(baselines, ra.Baseline)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "config\tconc\tops/s\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\terrors\tWAL max\tckpts\tw/commit\t"
	for _, b := range baselines {
		head += "×" + b + "\tp99×" + b + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, s := range r.Steps {
		if s.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%d\tskipped: %s\t\t\t\t\t\t\t\t\t", s.Config, s.Concurrency, s.Skipped)
			for range baselines {
				fmt.Fprint(tw, "\t\t")
			}
			fmt.Fprintln(tw)
			continue
		}
		l := s.Latency
		walMax, ckpts, wpc := "–", "–", "–"
		if s.WAL != nil {
			walMax = humanBytes(s.WAL.MaxBytes)
			if s.WAL.Checkpoints != nil {
				ckpts = fmt.Sprint(*s.WAL.Checkpoints)
				if *s.WAL.CheckpointsIncomplete > 0 {
					ckpts += fmt.Sprintf(" (%d busy)", *s.WAL.CheckpointsIncomplete)
				}
			}
			if s.WAL.WritesPerCommit > 0 {
				wpc = fmt.Sprintf("%.1f", s.WAL.WritesPerCommit)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t", s.Config, s.Concurrency, thousands(s.OpsPerSec),
			ms(l.P50), ms(l.P99), ms(l.P999), ms(l.Max), s.Errors, walMax, ckpts, wpc)
		for _, b := range baselines {
			t, p := "", ""
			for _, ra := range s.Ratios {
				if ra.Baseline == b {
					t, p = ratio(ra.Throughput), ratio(ra.P99)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t", t, p)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Steps {
		if len(s.ByOp) > 0 {
			fmt.Fprintf(w, "\n%s at %d:", s.Config, s.Concurrency)
			for _, op := range []Op{OpLatest, OpAppend, OpHistory} {
				o := s.ByOp[op.String()]
				fmt.Fprintf(w, "  %s %s/s p99 %s ms;", op, thousands(o.OpsPerSec), ms(o.Latency.P99))
			}
		}
	}
	for _, s := range r.Steps {
		// Memory matters over long steps; the JSON has it for every step.
		if m := s.Memory; m != nil && s.Seconds >= 60 {
			f, l := m.FirstTenth, m.LastTenth
			fmt.Fprintf(w, "\n%s at %d: memory, first tenth of the step → last tenth: anonymous RSS %s → %s, Go heap %s → %s, SQLite %s → %s",
				s.Config, s.Concurrency, humanBytes(f.RSSAnonBytes), humanBytes(l.RSSAnonBytes),
				humanBytes(f.GoHeapBytes), humanBytes(l.GoHeapBytes), humanBytes(f.SQLiteBytes), humanBytes(l.SQLiteBytes))
		}
	}
	notes := false
	noted := map[string]bool{}
	for _, s := range r.Steps {
		if len(s.ErrorSamples) == 0 && (s.Note == "" || noted[s.Config+"\x00"+s.Note]) {
			continue
		}
		if !notes {
			fmt.Fprintln(w)
			notes = true
		}
		if s.Note != "" && !noted[s.Config+"\x00"+s.Note] {
			noted[s.Config+"\x00"+s.Note] = true
			fmt.Fprintf(w, "\n%s: %s", s.Config, s.Note)
		}
		for _, e := range s.ErrorSamples {
			fmt.Fprintf(w, "\n%s at %d: %d× %s", s.Config, s.Concurrency, e.Count, e.Message)
		}
	}
	fmt.Fprintln(w)
	if r.Error != "" {
		fmt.Fprintf(w, "\nstopped early: %s\n", r.Error)
	}
	_, err := fmt.Fprintf(w, "\n×baseline: throughput ÷ the baseline's (higher is better); p99×: p99 ÷ the baseline's (lower is better).\ncommand: %s\n", r.Command)
	return err
}

func ms(v float64) string {
	switch {
	case v == 0:
		return "–"
	case v < 1:
		return fmt.Sprintf("%.3f", v)
	case v < 100:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func ratio(v float64) string {
	if v == 0 {
		return "–"
	}
	if v < 10 {
		return fmt.Sprintf("%.2f×", v)
	}
	return fmt.Sprintf("%.0f×", v)
}

// thousands formats v rounded, with thin separators: 131,072.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// ReadReport reads a report that WriteJSON wrote.
func ReadReport(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	return &rep, nil
}
