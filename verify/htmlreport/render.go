package htmlreport

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strconv"
)

//go:embed report.html.tmpl
var pageText string

//go:embed report.css
var pageCSS string

var page = template.Must(template.New("page").Funcs(template.FuncMap{"long": long}).Parse(pageText))

// long: a name this long may break anywhere, or it would widen its table
// past the page.
func long(s string) bool { return len(s) > 48 }

// csp allows the page's one style sheet, by its hash, and nothing else:
// no script, image, font or connection, even if a name slipped through
// escaping.
var csp = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'"
}()

// Render writes the report of d as one HTML page.
func Render(w io.Writer, d *Data) error {
	if d == nil {
		return fmt.Errorf("html report: no data")
	}
	var b bytes.Buffer
	if err := page.Execute(&b, newView(d)); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// view is Data as the template shows it: every string cleaned, every
// number formatted, the charts drawn.
type view struct {
	Title, Model, Weights, Generated string
	Pass                             bool
	Verdict                          string
	CSS                              template.CSS
	CSP                              string
	Settings                         []Field
	Outputs                          []outputRow
	Checks                           []Check
	Layers                           *layersView
	Errors                           []histRow
	ErrorsOf                         string
	ErrorsTotal                      uint64
	ErrorsChart                      *chart
	TopK                             []topKRow
	TopKChart                        *chart
	Classes                          []classRow
	Disagreements                    []Disagreement
	DisagreementsMore                int
}

type outputRow struct {
	Name, Reference, MaxAbs, Bound, MaxRel, Cosine, Top1, Top5, Detail string
	Pass                                                               bool
}

type layersView struct {
	Batch, First, FirstMaxAbs, Error string
	Rows                             []layerRow
	Compared, Failing                int
	Chart                            *chart
}

type layerRow struct {
	Module, Value, Shape, MaxAbs, Bound, MaxRel, Cosine, Detail string
	Compared, Pass, First                                       bool
}

type histRow struct {
	Label, Count, Share string
}

type topKRow struct {
	Output, K, Share string
}

type classRow struct {
	Index, Name, Images, Reference, ONNX, Difference string
	Worse                                            bool
}

func newView(in *Data) *view {
	d := cleanData(in)
	v := &view{Title: d.Title, Model: d.Model, Weights: d.Weights, Generated: d.Generated,
		Pass: d.Pass, Verdict: d.Verdict, CSS: template.CSS(pageCSS), CSP: csp, Checks: d.Checks,
		ErrorsOf: d.ErrorsOf}
	if v.Title == "" {
		v.Title = "gnconv verify: " + d.Model
	}
	s := d.Settings
	v.Settings = append(v.Settings, Field{"tolerance", "max abs ≤ " + num(s.ATol) + " + " + num(s.RTol) + " × max |reference|"})
	if s.Input != "" {
		v.Settings = append(v.Settings, Field{"inputs", s.Input})
	}
	if s.Images > 0 {
		v.Settings = append(v.Settings, Field{"images", strconv.Itoa(s.Images)})
	}
	if s.Preprocessing != "" {
		v.Settings = append(v.Settings, Field{"preprocessing", s.Preprocessing})
	}
	if s.Kernel != "" {
		v.Settings = append(v.Settings, Field{"kernel", s.Kernel})
	}
	if s.Opset > 0 {
		v.Settings = append(v.Settings, Field{"opset", strconv.Itoa(s.Opset)})
	}
	v.Settings = append(v.Settings, s.Other...)
	for _, o := range d.Outputs {
		v.Outputs = append(v.Outputs, outputRow{Name: o.Name, Reference: o.Reference, MaxAbs: num(o.MaxAbs),
			Bound: num(o.Bound), MaxRel: num(o.MaxRel), Cosine: cosine(o.Cosine), Top1: percent(o.Top1),
			Top5: percent(o.Top5), Detail: o.Detail, Pass: o.Pass})
	}
	if d.Layers != nil {
		v.Layers = newLayersView(d.Layers)
	}
	if total := d.Errors.Total(); total > 0 {
		v.ErrorsTotal = total
		for _, b := range histBins(&d.Errors) {
			if b.Count == 0 {
				continue // the chart shows the gap; the table lists values
			}
			v.Errors = append(v.Errors, histRow{b.Label, strconv.FormatUint(b.Count, 10), percent(float64(b.Count) / float64(total))})
		}
		v.ErrorsChart = histChart(&d.Errors, d.Outputs)
	}
	for _, t := range d.TopK {
		for _, p := range t.Points {
			v.TopK = append(v.TopK, topKRow{t.Output, strconv.Itoa(p.K), percent(p.Share)})
		}
	}
	v.TopKChart = topKChart(d.TopK)
	for _, c := range d.Classes {
		r := classRow{Index: strconv.Itoa(c.Index), Name: c.Name, Images: strconv.Itoa(c.Images)}
		if c.Images > 0 {
			ref, onnx := float64(c.ReferenceCorrect)/float64(c.Images), float64(c.ONNXCorrect)/float64(c.Images)
			r.Reference, r.ONNX = percent(ref), percent(onnx)
			r.Difference = strconv.FormatFloat(100*(onnx-ref), 'f', 1, 64) + " pt"
			r.Worse = onnx < ref
		}
		v.Classes = append(v.Classes, r)
	}
	v.Disagreements = d.Disagreements
	total := max(d.DisagreementsTotal, len(d.Disagreements))
	if len(v.Disagreements) > MaxDisagreements {
		v.Disagreements = v.Disagreements[:MaxDisagreements]
	}
	v.DisagreementsMore = total - len(v.Disagreements)
	return v
}

func newLayersView(l *Layers) *layersView {
	lv := &layersView{Batch: shape(l.Batch), First: l.First, Error: l.Error}
	if l.First != "" {
		lv.FirstMaxAbs = num(l.FirstMaxAbs)
	}
	for _, r := range l.Rows {
		row := layerRow{Module: r.Module, Value: r.Value, Shape: shape(r.Shape), Detail: r.Detail,
			Compared: r.Compared, Pass: r.Pass, First: r.Module == l.First && l.First != ""}
		if r.Compared {
			row.MaxAbs, row.Bound, row.MaxRel, row.Cosine = num(r.MaxAbs), num(r.Bound), num(r.MaxRel), cosine(r.Cosine)
			lv.Compared++
			if !r.Pass {
				lv.Failing++
			}
		}
		lv.Rows = append(lv.Rows, row)
	}
	lv.Chart = layersChart(l)
	return lv
}

// cleanData copies d with every string cleaned (see clean).
func cleanData(in *Data) *Data {
	d := *in
	for _, p := range []*string{&d.Title, &d.Model, &d.Weights, &d.Generated, &d.Verdict, &d.ErrorsOf,
		&d.Settings.Kernel, &d.Settings.Input, &d.Settings.Preprocessing} {
		*p = clean(*p)
	}
	d.Settings.Other = cleanSlice(d.Settings.Other, func(f *Field) { f.Name, f.Value = clean(f.Name), clean(f.Value) })
	d.Outputs = cleanSlice(d.Outputs, func(o *Output) { o.Name, o.Reference, o.Detail = clean(o.Name), clean(o.Reference), clean(o.Detail) })
	d.Checks = cleanSlice(d.Checks, func(c *Check) { c.Name, c.Detail = clean(c.Name), clean(c.Detail) })
	if in.Layers != nil {
		l := *in.Layers
		l.First, l.Error = clean(l.First), clean(l.Error)
		l.Rows = cleanSlice(l.Rows, func(r *Layer) { r.Module, r.Value, r.Detail = clean(r.Module), clean(r.Value), clean(r.Detail) })
		d.Layers = &l
	}
	d.TopK = cleanSlice(d.TopK, func(t *TopK) { t.Output = clean(t.Output) })
	d.Classes = cleanSlice(d.Classes, func(c *Class) { c.Name = clean(c.Name) })
	d.Disagreements = cleanSlice(d.Disagreements, func(x *Disagreement) {
		x.File, x.ReferenceName, x.ONNXName = clean(x.File), clean(x.ReferenceName), clean(x.ONNXName)
	})
	return &d
}

// cleanSlice copies s, so that the caller's Data is left as it was, and
// cleans each element.
func cleanSlice[T any](s []T, f func(*T)) []T {
	if s == nil {
		return nil
	}
	out := append([]T(nil), s...)
	for i := range out {
		f(&out[i])
	}
	return out
}
