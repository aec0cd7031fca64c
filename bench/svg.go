package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strings"
)

// svgPalette colours the configurations' lines (colour-blind safe).
var svgPalette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"}

// WriteSVG draws two charts side by side, throughput and p99 latency
// against concurrency (log scale), with one line per configuration and a
// legend. Skipped steps and missing figures leave gaps.
func (r *Report) WriteSVG(w io.Writer) error {
	const (
		width, height = 1000, 440
		panelW        = 420
		panelH        = 300
		top           = 60
	)
	var configs []string
	seen := map[string]bool{}
	var concs []int
	seenC := map[int]bool{}
	for _, s := range r.Steps {
		if !seen[s.Config] {
			seen[s.Config] = true
			configs = append(configs, s.Config)
		}
		if !seenC[s.Concurrency] {
			seenC[s.Concurrency] = true
			concs = append(concs, s.Concurrency)
		}
	}
	sort.Ints(concs)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	title := fmt.Sprintf("cortex bench: %s, %d-byte states — %s, %d cores, %s", r.Settings.Workload, r.Settings.StateBytes, r.Machine.CPU, r.Machine.Cores, r.Date)
	fmt.Fprintf(&b, `<text x="%d" y="24" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`+"\n", width/2, esc(title))

	panels := []struct {
		x     int
		title string
		unit  string
		value func(Step) float64
	}{
		{70, "throughput (operations/s)", "ops/s", func(s Step) float64 { return s.OpsPerSec }},
		{560, "p99 latency (ms)", "ms", func(s Step) float64 { return s.Latency.P99 }},
	}
	for _, p := range panels {
		ymax := 0.0
		for _, s := range r.Steps {
			if s.Skipped == "" {
				ymax = math.Max(ymax, p.value(s))
			}
		}
		ticks, ytop := niceTicks(ymax)
		x0, y0 := float64(p.x), float64(top+panelH)
		xAt := func(c int) float64 {
			if len(concs) < 2 {
				return x0 + panelW/2
			}
			lo, hi := math.Log2(float64(concs[0])), math.Log2(float64(concs[len(concs)-1]))
			if hi == lo {
				return x0 + panelW/2
			}
			return x0 + 10 + (math.Log2(float64(c))-lo)/(hi-lo)*(panelW-20)
		}
		yAt := func(v float64) float64 { return y0 - v/ytop*panelH }

		fmt.Fprintf(&b, `<g class="panel">`+"\n")
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle" font-weight="bold">%s</text>`+"\n", x0+panelW/2, top-10, esc(p.title))
		// Grid and y axis.
		for _, t := range ticks {
			y := yAt(t)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, y, x0+panelW, y)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", x0-6, y, esc(tickLabel(t)))
		}
		// x axis: log scale, one tick per concurrency of the sweep.
		for _, c := range concs {
			x := xAt(c)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, y0, x, y0-panelH)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`+"\n", x, y0+16, c)
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x0, y0, x0+panelW, y0)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x0, y0, x0, y0-panelH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">concurrency (log scale)</text>`+"\n", x0+panelW/2, y0+34)
		// One line per configuration.
		for i, cfg := range configs {
			color := svgPalette[i%len(svgPalette)]
			var pts []string
			flush := func() {
				if len(pts) > 1 {
					fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
				}
				pts = nil
			}
			for _, c := range concs {
				s, ok := r.step(cfg, c)
				if !ok || s.Skipped != "" || p.value(s) == 0 {
					flush()
					continue
				}
				x, y := xAt(c), yAt(p.value(s))
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s at %d: %s %s</title></circle>`+"\n", x, y, color, esc(cfg), c, esc(tickLabel(p.value(s))), p.unit)
			}
			flush()
		}
		fmt.Fprintf(&b, "</g>\n")
	}
	// Legend.
	lx := 70
	for i, cfg := range configs {
		color := svgPalette[i%len(svgPalette)]
		y := height - 30
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", lx, y, lx+24, y, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">%s</text>`+"\n", lx+30, y, esc(cfg))
		lx += 50 + 8*len(cfg)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// step finds a configuration's step at a concurrency.
func (r *Report) step(cfg string, c int) (Step, bool) {
	for _, s := range r.Steps {
		if s.Config == cfg && s.Concurrency == c {
			return s, true
		}
	}
	return Step{}, false
}

// niceTicks returns about five round tick values from 0 to at least max,
// and the top of the axis.
func niceTicks(max float64) ([]float64, float64) {
	if max <= 0 || math.IsNaN(max) || math.IsInf(max, 0) {
		return []float64{0, 1}, 1
	}
	raw := max / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	top := math.Ceil(max/step) * step
	var ticks []float64
	for v := 0.0; v <= top*1.0000001; v += step {
		ticks = append(ticks, v)
	}
	return ticks, top
}

// tickLabel prints a value compactly: 120k, 1.5M, 0.25.
func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v/1e6), "0"), ".") + "M"
	case v >= 1e4:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v/1e3), "0"), ".") + "k"
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	case v == 0:
		return "0"
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func esc(s string) string { return html.EscapeString(s) }
