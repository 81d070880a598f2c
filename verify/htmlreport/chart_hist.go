package htmlreport

import (
	"fmt"
	"math"
)

// histBin is one bar of the error histogram, as the chart and the table
// show it.
type histBin struct {
	Label string // the range, "[1e-7, 1.78e-7)" or "0", "NaN", "Inf"
	Count uint64
	// Lo is the lower edge on the log scale (for bound lines); 0 for the
	// special bins.
	Lo, Hi float64
	// Tick labels the bin on the chart's axis: its lower edge when that
	// is a power of ten, a special bin's name, or nothing.
	Tick string
	// Edge: Tick sits at the bin's left edge rather than its middle.
	Edge bool
	// Special: the zeros, NaNs or infinities, drawn apart from the scale.
	Special bool
}

// histBins are the bins from the first to the last that holds a value,
// below-range and above-range included, then zeros, NaN and Inf when
// there are any.
func histBins(h *Histogram) []histBin {
	var all []histBin
	all = append(all, histBin{Label: "(0, " + num(Edge(0)) + ")", Count: h.Below, Tick: "< " + decade(MinExp)})
	for i, c := range h.Counts {
		b := histBin{Label: "[" + num(Edge(i)) + ", " + num(Edge(i+1)) + ")", Count: c, Lo: Edge(i), Hi: Edge(i + 1)}
		if i%PerDecade == 0 {
			b.Tick, b.Edge = decade(MinExp+i/PerDecade), true
		}
		all = append(all, b)
	}
	all = append(all, histBin{Label: "≥ " + num(Edge(Bins)), Count: h.Above, Tick: "≥ " + decade(MaxExp)})
	first, last := -1, -1
	for i, b := range all {
		if b.Count > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	var out []histBin
	if first >= 0 {
		out = append(out, all[first:last+1]...)
	}
	for _, s := range []histBin{{Label: "0", Tick: "0", Count: h.Zero, Special: true}, {Label: "NaN", Tick: "NaN", Count: h.NaN, Special: true}, {Label: "Inf", Tick: "Inf", Count: h.Inf, Special: true}} {
		if s.Count > 0 {
			out = append(out, s)
		}
	}
	return out
}

// histChart draws the bins as bars on a linear count axis; each output's
// bound is a vertical line where it falls in the range. Only bins that
// hold values get a bar (the table lists the empty ones between).
func histChart(h *Histogram, outs []Output) *chart {
	bins := histBins(h)
	if len(bins) == 0 {
		return nil
	}
	const left, right, top, bottom = 72.0, 16.0, 20.0, 250.0
	// the special bins stand one slot apart from the scale's
	slots := float64(len(bins))
	if bins[len(bins)-1].Special && !bins[0].Special {
		slots++
	}
	w := math.Max(1000, left+right+slots*14)
	c := &chart{ID: "chart-errors", W: int(w), H: 290,
		Title: "Histogram of |ONNX − reference| over every output value"}
	var most uint64
	for _, b := range bins {
		most = max(most, b.Count)
	}
	ymax := niceMax(float64(most))
	y := func(v float64) float64 { return bottom - v/ymax*(bottom-top) }
	for i := 0; i <= 5; i++ {
		v := ymax * float64(i) / 5
		c.line(left, y(v), w-right, y(v), "grid")
		c.text(left-6, y(v)+4, num(v), "end", "tick")
	}
	c.line(left, bottom, w-right, bottom, "axis")
	c.axisTitle(14, (top+bottom)/2, "values")
	c.text((left+w-right)/2, bottom+34, "|ONNX − reference|, four bins per power of ten", "middle", "axis-title")
	dx := (w - left - right) / slots
	shown := 0
	gap := 0.0
	for i, b := range bins {
		if b.Special && i > 0 && !bins[i-1].Special {
			gap = dx
		}
		x := left + dx*float64(i) + gap
		switch {
		case b.Edge:
			c.line(x, bottom, x, bottom+5, "axis")
			c.text(x, bottom+17, b.Tick, "middle", "tick")
		case b.Tick != "":
			c.text(x+dx/2, bottom+17, b.Tick, "middle", "tick")
		}
		if b.Count == 0 {
			continue
		}
		shown++
		class := "bar"
		if b.Label == "NaN" || b.Label == "Inf" {
			class += " nonfinite"
		}
		// a bin of one value among millions still shows: a pixel at least
		bh := math.Max(1, bottom-y(float64(b.Count)))
		c.rect(x+1, bottom-bh, dx-2, bh, class,
			fmt.Sprintf("%s: %d values", b.Label, b.Count), fmt.Sprint(b.Count))
	}
	// a bound falls in the bin whose edges hold it, at its log position
	drawn := 0
	for _, o := range outs {
		for i, b := range bins {
			if b.Lo > 0 && b.Hi > 0 && o.Bound >= b.Lo && o.Bound < b.Hi {
				x := left + dx*(float64(i)+(math.Log10(o.Bound)-math.Log10(b.Lo))/(math.Log10(b.Hi)-math.Log10(b.Lo)))
				c.line(x, top, x, bottom, "bound")
				// labels step down so that close bounds stay readable
				c.text(x+3, top+10+12*float64(drawn%6), "bound of "+short(o.Name, 24), "start", "note")
				drawn++
			}
		}
	}
	c.Desc = fmt.Sprintf("%d values in %d bins, %d of them holding values; four bins per power of ten; the outputs' bounds drawn where they fall. The table below lists every bin.",
		h.Total(), len(bins), shown)
	return c
}
