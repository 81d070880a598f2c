package htmlreport

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func render(t *testing.T, d *Data) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// element is a parsed element of the page, with its ancestors' figure.
type element struct {
	name   string
	attrs  map[string]string
	figure string
	text   string
}

// parse reads the page as XML, strictly: every element closed, every
// attribute quoted and every reference one XML knows. It fails the test
// on anything else, and returns the elements in document order.
func parse(t *testing.T, page string) []element {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(page))
	dec.Strict = true
	var els []element
	var stack []int
	figure := []string{""}
	roots := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				roots++
			}
			e := element{name: tok.Name.Local, attrs: map[string]string{}, figure: figure[len(figure)-1]}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if e.name == "figure" {
				e.figure = e.attrs["id"]
			}
			figure = append(figure, e.figure)
			stack = append(stack, len(els))
			els = append(els, e)
		case xml.EndElement:
			stack, figure = stack[:len(stack)-1], figure[:len(figure)-1]
		case xml.CharData:
			for _, i := range stack {
				els[i].text += string(tok)
			}
		}
	}
	if roots != 1 {
		t.Fatalf("%d root elements", roots)
	}
	return els
}

// marks counts the data marks of one chart: elements whose class has
// "mark" or "bar".
func marks(els []element, figure string) int {
	n := 0
	for _, e := range els {
		c := " " + e.attrs["class"] + " "
		if e.figure == figure && (strings.Contains(c, " mark ") || strings.Contains(c, " bar ")) {
			n++
		}
	}
	return n
}

func TestChartsHaveOneMarkPerPoint(t *testing.T) {
	d := sample()
	els := parse(t, render(t, d))
	compared := 0
	for _, r := range d.Layers.Rows {
		if r.Compared {
			compared++
		}
	}
	if n := marks(els, "chart-layers"); n != compared {
		t.Errorf("layer chart: %d marks for %d compared modules", n, compared)
	}
	bins := 0
	for _, b := range histBins(&d.Errors) {
		if b.Count > 0 {
			bins++
		}
	}
	if n := marks(els, "chart-errors"); n != bins || bins != 10 {
		t.Errorf("histogram: %d bars for %d bins holding values", n, bins)
	}
	if n := marks(els, "chart-topk"); n != 4 {
		t.Errorf("top-k chart: %d bars for 4 shares", n)
	}
	// failing modules are marked apart, by shape too
	fails := 0
	for _, e := range els {
		if e.figure == "chart-layers" && strings.Contains(e.attrs["class"], "fail") {
			fails++
			if e.name != "path" {
				t.Errorf("failing module drawn as %s", e.name)
			}
		}
	}
	if fails != 4 {
		t.Errorf("%d failing marks, want 4", fails)
	}
	// the bound is one line through the modules, broken at aux1.conv
	for _, e := range els {
		if e.figure == "chart-layers" && e.attrs["class"] == "bound" {
			if m := strings.Count(e.attrs["d"], "M"); m != 2 {
				t.Errorf("bound path %q has %d pieces, want 2", e.attrs["d"], m)
			}
		}
	}
}

// TestSelfContained: a report refers to nothing outside itself.
func TestSelfContained(t *testing.T) {
	page := strings.ToLower(render(t, sample()))
	for _, bad := range []string{"<script", "http:", "https:", "//", "url(", "@import", "src=", "href=", "<link", "<img"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
}

func TestChartsAreAccessible(t *testing.T) {
	els := parse(t, render(t, sample()))
	svgs := 0
	for i, e := range els {
		if e.name != "svg" {
			continue
		}
		svgs++
		// a role, and a title and a description it is labelled by
		ids := strings.Fields(e.attrs["aria-labelledby"])
		if e.attrs["role"] != "img" || len(ids) != 2 {
			t.Errorf("svg %v", e.attrs)
		}
		if els[i+1].name != "title" || els[i+1].attrs["id"] != ids[0] || els[i+2].name != "desc" || els[i+2].attrs["id"] != ids[1] || els[i+2].text == "" {
			t.Errorf("svg %s: no title and desc first", e.figure)
		}
	}
	if svgs != 3 {
		t.Errorf("%d charts, want 3", svgs)
	}
	// every mark has its numbers as a title
	for i, e := range els {
		c := " " + e.attrs["class"] + " "
		if strings.Contains(c, " mark ") || strings.Contains(c, " bar ") {
			if els[i+1].name != "title" || els[i+1].text == "" {
				t.Errorf("mark %v has no title", e.attrs)
			}
		}
	}
}

// hostile is a report whose every name is an attack or an oddity.
func hostile() *Data {
	long := strings.Repeat("inception4a.branch2.1.", 500)
	names := []string{
		`<script>alert(1)</script>`, `"><img src=https://example.com/x onerror=alert(1)>`,
		`a'b"c&d<e>f`, "ctrl\x00\x01\x1b[31m\x7f", "bidi\u202egnp.exe", "bad\xff\xfeutf8", "nonchar\uffff\ufffe",
		long, `</style><style>body{background:url(http://example.com)}</style>`, `javascript:alert(1)`,
		`]]><!-- --><![CDATA[`, "{{.Title}}",
	}
	d := &Data{Title: names[0], Model: names[1], Weights: names[7], Generated: names[2], Verdict: names[8],
		Settings: Settings{ATol: math.NaN(), RTol: math.Inf(1), Kernel: names[3], Input: names[4], Preprocessing: names[5],
			Other: []Field{{names[6], names[9]}, {names[10], names[11]}}}}
	d.Layers = &Layers{Batch: []int{1, 3, 224, 224}, First: names[1], FirstMaxAbs: math.NaN(), Error: names[2]}
	specials := []float64{0, math.NaN(), math.Inf(1), math.Inf(-1), -1, 5e-324, math.MaxFloat64, 1e-5}
	for i, n := range names {
		v := specials[i%len(specials)]
		d.Outputs = append(d.Outputs, Output{Name: n, Reference: n, MaxAbs: v, Bound: specials[(i+1)%len(specials)],
			MaxRel: v, Cosine: v, Top1: v, Top5: v, Detail: n})
		d.Checks = append(d.Checks, Check{Name: n, Detail: n})
		d.Layers.Rows = append(d.Layers.Rows, Layer{Module: n, Value: n, Shape: []int{1, i}, MaxAbs: v,
			MaxRel: v, Cosine: v, Bound: specials[(i+3)%len(specials)], Compared: i%5 != 4, Pass: i%2 == 0, Detail: n})
		d.TopK = append(d.TopK, TopK{Output: n, Points: []KShare{{1, v}, {i, 2}}})
		d.Classes = append(d.Classes, Class{Index: -i, Name: n, Images: i, ReferenceCorrect: i, ONNXCorrect: 2 * i})
		d.Disagreements = append(d.Disagreements, Disagreement{File: n, Reference: i, ONNX: -i, ReferenceName: n, ONNXName: n})
		d.TopK = append(d.TopK, TopK{Output: n})
		d.Errors.Add(v)
	}
	d.Layers.First = names[1]
	d.ErrorsOf = names[0]
	return d
}

func TestHostileNamesAreEscaped(t *testing.T) {
	page := render(t, hostile())
	els := parse(t, page)
	lower := strings.ToLower(page)
	// the names' URLs stay text (no attribute holds one, below)
	for _, bad := range []string{"<script", "<img", "<style><style", "<![cdata[", "\x00", "\x1b", "\u202e", "\xff", "\uffff"} {
		if strings.Contains(lower, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", `ctrl\x00\x01\x1b[31m\x7f`, `bidi\u202egnp.exe`, "bad\ufffd\ufffdutf8", `nonchar\uffff\ufffe`, "{{.Title}}"} {
		if !strings.Contains(page, want) {
			t.Errorf("page does not show %q", want)
		}
	}
	for _, e := range els {
		// nothing that could load or run anything: the only elements are
		// the page's own, and no attribute points anywhere
		switch e.name {
		case "script", "img", "iframe", "object", "embed", "link", "image", "use", "foreignObject", "a", "form", "base":
			t.Errorf("element %s", e.name)
		}
		for k, v := range e.attrs {
			if k == "href" || k == "src" || strings.HasPrefix(k, "on") || strings.Contains(strings.ToLower(v), "url(") {
				t.Errorf("%s %s=%q", e.name, k, v)
			}
		}
		if e.name == "style" && e.text != pageCSS {
			t.Errorf("a second or changed style sheet")
		}
	}
	if n := strings.Count(lower, "<style"); n != 1 {
		t.Errorf("%d style elements", n)
	}
}

var numericAttr = map[string]bool{"x": true, "y": true, "cx": true, "cy": true, "r": true, "width": true, "height": true,
	"x1": true, "y1": true, "x2": true, "y2": true}

// TestChartsStayFinite: NaN, Inf, zeros and negatives anywhere in Data
// leave every coordinate a finite number.
func TestChartsStayFinite(t *testing.T) {
	for name, d := range map[string]*Data{"sample": sample(), "hostile": hostile()} {
		els := parse(t, render(t, d))
		coords := regexp.MustCompile(`^[-0-9. MLZ]*$`)
		for _, e := range els {
			if e.figure == "" {
				continue
			}
			for k, v := range e.attrs {
				if numericAttr[k] {
					f, err := strconv.ParseFloat(v, 64)
					if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || ((k == "width" || k == "height" || k == "r") && f < 0) {
						t.Errorf("%s: %s %s=%q", name, e.name, k, v)
					}
				}
				if k == "d" && !coords.MatchString(v) {
					t.Errorf("%s: path d=%q", name, v)
				}
				if k == "transform" && (strings.Contains(v, "NaN") || strings.Contains(v, "Inf")) {
					t.Errorf("%s: transform=%q", name, v)
				}
			}
		}
	}
}

func TestCSPAllowsOnlyTheStyleSheet(t *testing.T) {
	page := render(t, sample())
	sum := sha256.Sum256([]byte(pageCSS))
	want := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; form-action 'none'"
	found := false
	for _, e := range parse(t, page) {
		if e.name == "meta" && e.attrs["http-equiv"] == "Content-Security-Policy" {
			found = true
			if e.attrs["content"] != want {
				t.Errorf("CSP %q, want %q", e.attrs["content"], want)
			}
		}
	}
	if !found {
		t.Error("no CSP")
	}
	if !strings.Contains(page, "<style>"+pageCSS+"</style>") {
		t.Errorf("the style sheet is not written as hashed")
	}
}

func TestRenderIsDeterministicAndLeavesDataAlone(t *testing.T) {
	d := hostile()
	before := fmt.Sprintf("%#v %#v", *d, *d.Layers)
	a, b := render(t, d), render(t, d)
	if a != b {
		t.Fatal("two renderings of one Data differ")
	}
	if after := fmt.Sprintf("%#v %#v", *d, *d.Layers); after != before {
		t.Fatal("Render changed its Data")
	}
	if !reflect.DeepEqual(sample(), sample()) || render(t, sample()) != render(t, sample()) {
		t.Fatal("sample differs")
	}
}

func TestEmptySectionsSaySo(t *testing.T) {
	page := render(t, &Data{Model: "m.onnx", Pass: true})
	els := parse(t, page)
	for _, want := range []string{"PASS", "No output was compared.", "The layer-by-layer comparison was not run.",
		"No output values were binned.", "No images were classified."} {
		if !strings.Contains(page, want) {
			t.Errorf("page does not say %q", want)
		}
	}
	for _, e := range els {
		if e.name == "svg" || e.attrs["id"] == "classes" || e.attrs["id"] == "disagreements" {
			t.Errorf("empty report has %s %q", e.name, e.attrs["id"])
		}
	}

	d := sample()
	for i := range d.Layers.Rows {
		d.Layers.Rows[i].Compared = false
	}
	d.Layers.First = ""
	page = render(t, d)
	parse(t, page)
	if !strings.Contains(page, "No module could be compared.") || strings.Contains(page, `id="chart-layers"`) {
		t.Error("a comparison with no module compared draws a chart or does not say so")
	}
	d.Layers = &Layers{Error: "interpreter: node Conv_3: unsupported"}
	page = render(t, d)
	if !strings.Contains(page, "could not run: interpreter: node Conv_3: unsupported") {
		t.Error("the comparison's error is not shown")
	}
}

func TestDisagreementsAreCapped(t *testing.T) {
	d := sample()
	d.Disagreements = nil
	for i := 0; i < MaxDisagreements+50; i++ {
		d.Disagreements = append(d.Disagreements, Disagreement{File: fmt.Sprintf("img%03d.png", i), Reference: 1, ONNX: 2})
	}
	page := render(t, d)
	if !strings.Contains(page, "img099.png") || strings.Contains(page, "img100.png") || !strings.Contains(page, "and 50 more.") {
		t.Error("the list is not cut at MaxDisagreements with the rest counted")
	}
	d.DisagreementsTotal = 1000
	if page = render(t, d); !strings.Contains(page, "and 900 more.") {
		t.Error("DisagreementsTotal is not counted")
	}
}

func TestPerClassTable(t *testing.T) {
	page := render(t, sample())
	for _, want := range []string{`<td class="n">0</td><td>tench</td><td class="n">3</td><td class="n">100.0%</td><td class="n">66.7%</td><td class="n">-33.3 pt</td>`,
		`<tr class="fail"><td class="n">0</td>`, "first divergence: inception4a.branch3.0"} {
		if !strings.Contains(page, want) {
			t.Errorf("page does not hold %q", want)
		}
	}
}

func TestRenderNil(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, nil); err == nil || b.Len() != 0 {
		t.Fatalf("Render(nil): %v, %d bytes", err, b.Len())
	}
}
