package htmlreport

import (
	"fmt"
	"math"
	"strconv"
)

// topKChart draws one bar per output and k: the share of images whose k
// top classes agree, from 0 to 100%.
func topKChart(tk []TopK) *chart {
	n := 0
	for _, t := range tk {
		n += len(t.Points)
	}
	if n == 0 {
		return nil
	}
	const left, right, top, bottom, bw = 56.0, 16.0, 20.0, 220.0, 28.0
	groups := 0
	for _, t := range tk {
		if len(t.Points) > 0 {
			groups++
		}
	}
	gap := 24.0
	w := math.Max(360, left+right+float64(n)*bw+float64(groups)*gap)
	c := &chart{ID: "chart-topk", W: int(w), H: 280,
		Title: "Top-k agreement between the ONNX file and the reference"}
	y := func(v float64) float64 { return bottom - v*(bottom-top) }
	for i := 0; i <= 4; i++ {
		v := float64(i) / 4
		c.line(left, y(v), w-right, y(v), "grid")
		c.text(left-6, y(v)+4, strconv.Itoa(25*i)+"%", "end", "tick")
	}
	c.line(left, bottom, w-right, bottom, "axis")
	x := left + gap/2
	for _, t := range tk {
		if len(t.Points) == 0 {
			continue
		}
		x0 := x
		for _, p := range t.Points {
			v := p.Share
			if math.IsNaN(v) {
				v = 0
			}
			v = math.Max(0, math.Min(1, v))
			c.rect(x+2, y(v), bw-4, bottom-y(v), "bar",
				fmt.Sprintf("%s top-%d: %s", t.Output, p.K, percent(p.Share)), percent(p.Share))
			c.text(x+bw/2, bottom+14, "k="+strconv.Itoa(p.K), "middle", "tick")
			x += bw
		}
		c.text((x0+x)/2, bottom+32, short(t.Output, 28), "middle", "tick")
		x += gap
	}
	c.Desc = fmt.Sprintf("%d bars, one per output and k, on a scale from 0 to 100%%; the table beside lists the same shares.", n)
	return c
}
