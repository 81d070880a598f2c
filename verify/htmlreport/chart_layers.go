package htmlreport

import (
	"fmt"
	"math"
	"strings"
)

// layersChart plots each compared module's max abs error in network order
// on a log axis, its bound as a line through the modules, failing modules
// as red diamonds (shape as well as colour). Zeros sit on a row of their
// own below the axis, NaN and Inf on one above it, so that no value is
// left off or breaks the scale.
func layersChart(l *Layers) *chart {
	n := len(l.Rows)
	var vals []float64
	compared, failing := 0, 0
	for _, r := range l.Rows {
		if r.Compared {
			vals = append(vals, r.MaxAbs, r.Bound)
			compared++
			if !r.Pass {
				failing++
			}
		}
	}
	if compared == 0 {
		return nil
	}
	const left, right, top, bottom = 64.0, 16.0, 34.0, 270.0
	w := math.Max(1000, left+right+float64(n)*9)
	c := &chart{ID: "chart-layers", W: int(w), H: 400,
		Title: "Max abs error per module, in network order"}
	// the plotted band, with a row for Inf/NaN above and one for 0 below
	a := newLogAxis(vals, top+18, bottom-18)
	c.Desc = fmt.Sprintf("%d modules compared, %d over their bound; log scale from %s to %s, the bound drawn as a line; zeros on the bottom row, NaN and Inf on the top row. The table below lists every number.",
		compared, failing, decade(a.Lo), decade(a.Hi))
	for e := a.Lo; e <= a.Hi; e += a.step() {
		y := a.y(math.Pow(10, float64(e)))
		c.line(left, y, w-right, y, "grid")
		c.text(left-6, y+4, decade(e), "end", "tick")
	}
	c.line(left, top, w-right, top, "grid special")
	c.text(left-6, top+4, "NaN/Inf", "end", "tick")
	c.line(left, bottom, w-right, bottom, "grid special")
	c.text(left-6, bottom+4, "0", "end", "tick")
	c.line(left, top-10, left, bottom+6, "axis")
	c.axisTitle(14, (top+bottom)/2, "max abs error")

	dx := (w - left - right) / float64(n)
	x := func(i int) float64 { return left + dx*(float64(i)+0.5) }
	var bound strings.Builder
	pen := "M"
	lastLabel := math.Inf(-1)
	for i, r := range l.Rows {
		// a unit or stem layer gets a label, unless it would overlap the
		// one before (the stem's layers are close together); a branch's
		// layers share their unit's
		if !strings.Contains(r.Module, ".") && x(i)-lastLabel >= 14 {
			c.line(x(i), bottom+6, x(i), bottom+10, "axis")
			c.rotated(x(i), bottom+16, short(r.Module, 22), -60, "tick")
			lastLabel = x(i)
		}
		if !r.Compared {
			pen = "M" // the bound line breaks over a module not compared
			continue
		}
		if b := r.Bound; b > 0 && !math.IsInf(b, 0) {
			fmt.Fprintf(&bound, "%s%s %s ", pen, coord(x(i)), coord(a.y(b)))
			pen = "L"
		} else {
			pen = "M"
		}
		v := r.MaxAbs
		var y float64
		class := "mark"
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			y, class = top, class+" nonfinite"
		case v <= 0:
			y, class = bottom, class+" zero"
		default:
			y = a.y(v)
		}
		verdict := "pass"
		if !r.Pass {
			verdict = "FAIL"
		}
		title := fmt.Sprintf("%s: max abs %s, bound %s, %s", r.Module, num(v), num(r.Bound), verdict)
		m := mark{Class: class, Title: title, Value: num(v)}
		if r.Pass {
			m.Shape, m.X, m.Y, m.R = "circle", coord(x(i)), coord(y), "3"
			m.Class += " pass"
		} else {
			s := 5.0
			m.Shape = "path"
			m.D = fmt.Sprintf("M%s %sL%s %sL%s %sL%s %sZ", coord(x(i)), coord(y-s), coord(x(i)+s), coord(y), coord(x(i)), coord(y+s), coord(x(i)-s), coord(y))
			m.Class += " fail"
		}
		if r.Module == l.First {
			c.line(x(i), top-10, x(i), bottom, "divergence")
			anchor := "start"
			if x(i) > w/2 {
				anchor = "end"
			}
			c.text(x(i), top-14, "first divergence: "+short(r.Module, 40), anchor, "note")
		}
		c.Marks = append(c.Marks, m)
	}
	if bound.Len() > 0 {
		c.Paths = append(c.Paths, path{D: strings.TrimSpace(bound.String()), Class: "bound", Title: "each module's bound"})
	}
	return c
}
