package htmlreport

import (
	"math"
	"strconv"
)

// chart is one inline SVG figure, as plain parts the template writes out
// (so that every text in it is escaped by html/template like the rest).
type chart struct {
	ID          string
	Title, Desc string
	W, H        int
	Lines       []line
	Paths       []path
	Texts       []text
	Marks       []mark
}

type line struct{ X1, Y1, X2, Y2, Class string }

type path struct{ D, Class, Title string }

type text struct{ X, Y, Text, Anchor, Transform, Class string }

// mark is one data point: a circle, a rect or a path (Shape), whose title
// gives its numbers as a tooltip and to screen readers.
type mark struct {
	Shape         string
	X, Y, W, H, R string
	D             string
	Class, Title  string
	Value         string // data-value: the number it stands for
}

func (c *chart) line(x1, y1, x2, y2 float64, class string) {
	c.Lines = append(c.Lines, line{coord(x1), coord(y1), coord(x2), coord(y2), class})
}

func (c *chart) text(x, y float64, s, anchor, class string) {
	c.Texts = append(c.Texts, text{X: coord(x), Y: coord(y), Text: s, Anchor: anchor, Class: class})
}

// rotated writes a label turned by deg about its anchor point.
func (c *chart) rotated(x, y float64, s string, deg int, class string) {
	c.Texts = append(c.Texts, text{X: coord(x), Y: coord(y), Text: s, Anchor: "end", Class: class,
		Transform: "rotate(" + strconv.Itoa(deg) + " " + coord(x) + " " + coord(y) + ")"})
}

// axisTitle writes a vertical axis's title, turned to read upwards.
func (c *chart) axisTitle(x, y float64, s string) {
	c.Texts = append(c.Texts, text{X: coord(x), Y: coord(y), Text: s, Anchor: "middle", Class: "axis-title",
		Transform: "rotate(-90 " + coord(x) + " " + coord(y) + ")"})
}

func (c *chart) rect(x, y, w, h float64, class, title, value string) {
	c.Marks = append(c.Marks, mark{Shape: "rect", X: coord(x), Y: coord(y), W: coord(w), H: coord(h), Class: class, Title: title, Value: value})
}

// logAxis maps positive values to a vertical position on a log10 scale
// between whole decades Lo and Hi.
type logAxis struct {
	Lo, Hi      int
	top, bottom float64
}

// newLogAxis spans the finite positive values given, whole decades, at
// least one; with none it spans 1e-8 to 1. Values from a file can be as
// large as float64 allows, so the span is whatever they need.
func newLogAxis(vals []float64, top, bottom float64) logAxis {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if v > 0 && !math.IsInf(v, 0) {
			l := math.Log10(v)
			lo, hi = math.Min(lo, l), math.Max(hi, l)
		}
	}
	a := logAxis{Lo: -8, Hi: 0, top: top, bottom: bottom}
	if !math.IsInf(lo, 0) {
		a.Lo, a.Hi = int(math.Floor(lo)), int(math.Ceil(hi))
		if a.Hi <= a.Lo {
			a.Hi = a.Lo + 1
		}
	}
	return a
}

// y is the position of a finite positive value.
func (a logAxis) y(v float64) float64 {
	f := (math.Log10(v) - float64(a.Lo)) / float64(a.Hi-a.Lo)
	return a.bottom - f*(a.bottom-a.top)
}

// step is the decades between labelled grid lines, so that at most about
// ten are drawn.
func (a logAxis) step() int {
	return max(1, (a.Hi-a.Lo+9)/10)
}

// decade labels 10^e the way the tables print numbers.
func decade(e int) string {
	return "1e" + strconv.Itoa(e)
}

// niceMax rounds a count up to 1, 2 or 5 times a power of ten, for a
// linear axis with five grid lines.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
