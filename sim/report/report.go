// Package report writes the result of a simulated fleet update
// (sim/scenario) as one self-contained HTML file: a summary, the table of
// targets, and inline SVG charts of every target's progress over virtual
// time, the air time of every node by kind, and the duration of each step
// of the procedure. It loads nothing from elsewhere: no scripts, fonts or
// style sheets.
package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/meshdfu/meshdfu/sim/scenario"
)

// Write renders r as an HTML page on w.
func Write(w io.Writer, r *scenario.Result) error {
	data := struct {
		R                      *scenario.Result
		Progress, Air, Phases  template.HTML
		Applied, Failed, Total int
	}{R: r, Progress: progressChart(r), Air: airChart(r), Phases: phaseChart(r), Total: len(r.Targets)}
	for _, t := range r.Targets {
		if t.FinalPhase == "Apply Success" {
			data.Applied++
		} else {
			data.Failed++
		}
	}
	if err := page.Execute(w, data); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(v float64) string { return fmt.Sprintf("%.1f %%", v*100) },
	"ok":  func(t scenario.TargetResult) bool { return t.FinalPhase == t.Expected },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>meshdfu sim — seed {{.R.Seed}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}
h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.verdict{display:inline-block;padding:.2em .7em;border-radius:4px;color:#fff;font-weight:600}
.pass{background:#2e7d32}.fail{background:#c62828}
dl{display:grid;grid-template-columns:max-content auto max-content auto;gap:.3em 1.2em}
dt{color:#666}dd{margin:0;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #eee}
th{background:#f5f5f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fdecea}
svg{display:block;margin:.5em 0}
svg text{font-family:system-ui,sans-serif;font-size:11px;fill:#444}
.note{color:#666;font-size:.9em}
</style>
</head>
<body>
<h1>meshdfu sim: fleet firmware update</h1>
<p><span class="verdict {{if .R.OK}}pass">every target ended as planned{{else}}fail">some targets did not end as planned{{end}}</span>
&nbsp; {{.Applied}} of {{.Total}} applied, {{.Failed}} failed</p>
<dl>
<dt>seed</dt><dd>{{.R.Seed}}</dd><dt>virtual time</dt><dd>{{printf "%.1f" .R.VirtualDuration}} s</dd>
<dt>topology</dt><dd>{{.R.Network.Topology}}, {{.R.Network.Nodes}} nodes, {{.R.Network.Relays}} relays, {{.R.Network.MaxHops}} hops</dd><dt>wall time</dt><dd>{{printf "%.2f" .R.WallSeconds}} s</dd>
<dt>loss</dt><dd>{{pct .R.Network.Loss}}{{if .R.Network.Burst}} (bursty){{end}}</dd><dt>image</dt><dd>{{.R.ImageBytes}} octets</dd>
<dt>profile</dt><dd>{{.R.Network.Profile}}, {{.R.Network.Addressing}}, {{.R.Transfer.Mode}}</dd><dt>transfer</dt><dd>{{printf "%.1f" .R.Transfer.Duration}} s, {{printf "%.0f" .R.Transfer.Goodput}} B/s of {{printf "%.0f" .R.Transfer.Bound}} ({{pct .R.Transfer.Efficiency}})</dd>
<dt>blocks / chunks</dt><dd>{{.R.Transfer.BlockSize}} / {{.R.Transfer.ChunkSize}} octets</dd><dt>air</dt><dd>{{.R.Air.PDUs}} PDUs, {{printf "%.1f" .R.Air.AirTime}} s, {{.R.Air.Collisions}} collisions</dd>
<dt>faults</dt><dd>{{range .R.Faults}}{{.}} {{else}}none{{end}}</dd><dt>distributor</dt><dd>{{.R.Network.Distributor}} ({{.R.Network.Role}})</dd>
<dt>initiator</dt><dd>{{.R.Network.Initiator}}</dd><dt>upload</dt><dd>{{.R.Network.Upload}}</dd>
</dl>

<h2>Progress of every target</h2>
<p class="note">Share of the image each target holds, over virtual time. Dots mark where a target reached its final phase.</p>
{{.Progress}}

<h2>Steps of the procedure</h2>
{{.Phases}}

<h2>Air time by node and kind</h2>
<p class="note">Seconds on air per node: its own messages, messages it relayed, and beacons.</p>
{{.Air}}

<h2>Targets</h2>
<table>
<tr><th>address</th><th>final phase</th><th>expected</th><th>fault</th><th>hops</th><th class="num">time (s)</th><th>reason</th></tr>
{{range .R.Targets}}<tr{{if not (ok .)}} class="bad"{{end}}><td>{{.Address}}</td><td>{{.FinalPhase}}</td><td>{{.Expected}}</td><td>{{.Fault}}</td><td class="num">{{.Hops}}</td><td class="num">{{printf "%.1f" .CompletedAt}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>
<p class="note">Network keys for Wireshark: NetKey {{.R.Keys.NetKey}}, AppKey {{.R.Keys.AppKey}}, IV Index {{.R.Keys.IVIndex}}.</p>
</body>
</html>
`))

// palette is a set of distinct colours for series.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

const (
	chartW = 1000
	padL   = 60
	padR   = 20
	padT   = 15
	padB   = 40
)

// svg is a small SVG writer.
type svg struct {
	b    strings.Builder
	w, h int
}

func newSVG(w, h int, title string) *svg {
	s := &svg{w: w, h: h}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, w, h, w, h, template.HTMLEscapeString(title))
	fmt.Fprintf(&s.b, `<title>%s</title>`, template.HTMLEscapeString(title))
	return s
}

func (s *svg) add(format string, a ...any) { fmt.Fprintf(&s.b, format, a...) }

func (s *svg) text(x, y float64, anchor, txt string) {
	s.add(`<text x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, x, y, anchor, template.HTMLEscapeString(txt))
}

func (s *svg) done() template.HTML {
	s.b.WriteString(`</svg>`)
	return template.HTML(s.b.String()) // built from numbers and escaped text only
}

// niceStep returns a round tick spacing for a span.
func niceStep(span float64, ticks int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(ticks)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// axes draws the frame, x ticks in seconds and y ticks from yTicks.
func (s *svg) axes(xmax float64, xlabel string, yTicks []float64, ymax float64, yfmt func(float64) string) (x func(float64) float64, y func(float64) float64) {
	pw, ph := float64(s.w-padL-padR), float64(s.h-padT-padB)
	x = func(v float64) float64 { return padL + v/xmax*pw }
	y = func(v float64) float64 { return padT + ph - v/ymax*ph }
	for _, v := range yTicks {
		s.add(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`, padL, s.w-padR, y(v), y(v))
		s.text(padL-6, y(v)+4, "end", yfmt(v))
	}
	step := niceStep(xmax, 8)
	for v := 0.0; v <= xmax+1e-9; v += step {
		s.add(`<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ccc"/>`, x(v), x(v), s.h-padB, s.h-padB+4)
		s.text(x(v), float64(s.h-padB+16), "middle", trimFloat(v))
	}
	s.add(`<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#888"/>`, padL, s.w-padR, s.h-padB, s.h-padB)
	s.add(`<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#888"/>`, padL, padL, padT, s.h-padB)
	s.text(float64(padL)+pw/2, float64(s.h-6), "middle", xlabel)
	return x, y
}

func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func progressChart(r *scenario.Result) template.HTML {
	s := newSVG(chartW, 320, "progress of every target over virtual time")
	xmax := math.Max(r.VirtualDuration, 1)
	x, y := s.axes(xmax, "virtual time (s)", []float64{0, .25, .5, .75, 1}, 1, func(v float64) string { return fmt.Sprintf("%.0f %%", v*100) })
	for i, ts := range r.Series {
		col := palette[i%len(palette)]
		var pts []string
		last := 0.0
		for _, p := range ts.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.T), y(p.V)))
			last = p.V
		}
		t := r.Targets[i]
		end := t.CompletedAt
		if t.FinalPhase == "Apply Success" {
			last = 1
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(end), y(last)))
		s.add(`<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-opacity="0.8" points="%s"><title>%s</title></polyline>`, col, strings.Join(pts, " "), template.HTMLEscapeString(t.Address))
		mark := col
		if t.FinalPhase != t.Expected {
			mark = "#c62828"
		}
		s.add(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s at %.1f s</title></circle>`, x(end), y(last), mark,
			template.HTMLEscapeString(t.Address), template.HTMLEscapeString(t.FinalPhase), end)
	}
	return s.done()
}

func phaseChart(r *scenario.Result) template.HTML {
	rowH := 24
	h := padT + padB + rowH*max(len(r.Phases), 1)
	s := newSVG(chartW, h, "duration of each step")
	xmax := math.Max(r.VirtualDuration, 1)
	pw := float64(chartW - padL - padR - 80)
	x := func(v float64) float64 { return padL + 60 + v/xmax*pw }
	for i, p := range r.Phases {
		yy := float64(padT + i*rowH)
		w := math.Max(p.Duration/xmax*pw, 1)
		s.add(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"><title>%s: %.1f s</title></rect>`, x(p.Start), yy, w, rowH-6, palette[i%len(palette)], p.Name, p.Duration)
		s.text(padL+54, yy+float64(rowH)/2+1, "end", p.Name)
		s.text(x(p.Start)+w+4, yy+float64(rowH)/2+1, "start", fmt.Sprintf("%.1f s", p.Duration))
	}
	step := niceStep(xmax, 8)
	base := float64(h - padB)
	s.add(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#888"/>`, x(0), x(xmax), base, base)
	for v := 0.0; v <= xmax+1e-9; v += step {
		s.text(x(v), base+16, "middle", trimFloat(v))
	}
	s.text(x(xmax/2), float64(h-6), "middle", "virtual time (s)")
	return s.done()
}

func airChart(r *scenario.Result) template.HTML {
	n := len(r.AirByNode)
	h := 300
	s := newSVG(chartW, h, "air time by node and kind")
	ymax := 0.0
	for _, a := range r.AirByNode {
		ymax = math.Max(ymax, a.Own+a.Relayed+a.Beacons)
	}
	if ymax == 0 {
		ymax = 1
	}
	step := niceStep(ymax, 5)
	ymax = math.Ceil(ymax/step) * step
	var ticks []float64
	for v := 0.0; v <= ymax+1e-9; v += step {
		ticks = append(ticks, v)
	}
	pw, ph := float64(chartW-padL-padR), float64(h-padT-padB)
	y := func(v float64) float64 { return padT + ph - v/ymax*ph }
	for _, v := range ticks {
		s.add(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`, padL, chartW-padR, y(v), y(v))
		s.text(padL-6, y(v)+4, "end", trimFloat(v)+" s")
	}
	bw := pw / float64(max(n, 1))
	kinds := []struct {
		name, col string
		get       func(scenario.NodeAir) float64
	}{
		{"own", "#1f77b4", func(a scenario.NodeAir) float64 { return a.Own }},
		{"relayed", "#ff7f0e", func(a scenario.NodeAir) float64 { return a.Relayed }},
		{"beacons", "#2ca02c", func(a scenario.NodeAir) float64 { return a.Beacons }},
	}
	for i, a := range r.AirByNode {
		x0 := padL + float64(i)*bw + bw*0.1
		acc := 0.0
		for _, k := range kinds {
			v := k.get(a)
			if v <= 0 {
				continue
			}
			s.add(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s (%s): %s %.2f s</title></rect>`,
				x0, y(acc+v), bw*0.8, y(acc)-y(acc+v), k.col, a.Address, a.Role, k.name, v)
			acc += v
		}
		if n <= 40 || i%(n/40+1) == 0 {
			s.add(`<text x="%.1f" y="%d" text-anchor="end" transform="rotate(-45 %.1f %d)">%s</text>`, x0+bw*0.4, h-padB+12, x0+bw*0.4, h-padB+12, a.Address)
		}
	}
	s.add(`<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#888"/>`, padL, chartW-padR, h-padB, h-padB)
	for i, k := range kinds {
		lx := float64(chartW - padR - 260 + i*85)
		s.add(`<rect x="%.1f" y="%d" width="10" height="10" fill="%s"/>`, lx, padT, k.col)
		s.text(lx+14, padT+9, "start", k.name)
	}
	return s.done()
}
