package interop

import (
	"image/png"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/verify/htmlreport"
)

// reportData is a failing verification with every section: GoogLeNet's
// modules, the errors growing from one branch on, a module not compared,
// NaN and zero errors, labelled classes and a name that is markup.
func reportData() *htmlreport.Data {
	d := &htmlreport.Data{
		Model: "googlenet.onnx", Weights: "googlenet.pth",
		Verdict:  "logits (max abs error 4.62 > 0.000243); first divergence at inception4a.branch3.1 (max abs 62.5)",
		Settings: htmlreport.Settings{ATol: 2e-5, RTol: 1e-5, Kernel: "go", Input: "1 random batch of 2 (seed 0) and 4 images", Images: 4, Opset: 17},
		Outputs: []htmlreport.Output{
			{Name: "logits", Reference: "logits", MaxAbs: 4.62, Bound: 0.000243, MaxRel: 12, Cosine: 0.93, Top1: 0.5, Top5: 0.25},
			{Name: "aux1", Reference: "aux1", MaxAbs: 3e-6, Bound: 0.0002, MaxRel: 1e-4, Cosine: 1, Top1: 1, Top5: 1, Pass: true},
		},
		Checks: []htmlreport.Check{{Name: "structure (onnx-go)", Pass: true, Detail: "nodes, initializers, inputs and outputs agree"}},
		TopK: []htmlreport.TopK{
			{Output: "logits", Points: []htmlreport.KShare{{K: 1, Share: 0.5}, {K: 5, Share: 0.25}}},
			{Output: "aux1", Points: []htmlreport.KShare{{K: 1, Share: 1}, {K: 5, Share: 1}}},
		},
		Classes: []htmlreport.Class{
			{Index: 0, Name: "tench", Images: 2, ReferenceCorrect: 2, ONNXCorrect: 1},
			{Index: 1, Name: "<script>alert('goldfish')</script>", Images: 2, ReferenceCorrect: 1, ONNXCorrect: 1},
		},
		Disagreements: []htmlreport.Disagreement{{File: "tench/n01440764_10026.JPEG", Reference: 0, ReferenceName: "tench", ONNX: 391, ONNXName: "coho"}},
	}
	l := &htmlreport.Layers{Batch: []int{2, 3, 224, 224}}
	bad := false
	add := func(name string, shape []int, maxAbs float64) {
		if name == "inception4a.branch3.1" {
			bad = true
		}
		if bad {
			maxAbs = 62.5
		}
		bound := 2e-5 + 1e-5*30
		l.Rows = append(l.Rows, htmlreport.Layer{Module: name, Value: name, Shape: shape, MaxAbs: maxAbs, MaxRel: maxAbs / 30,
			Cosine: 1, Bound: bound, Compared: true, Pass: maxAbs <= bound})
	}
	add("conv1", []int{2, 64, 112, 112}, 5.7e-6)
	add("maxpool1", []int{2, 64, 56, 56}, 0)
	add("conv2", []int{2, 64, 56, 56}, 8e-6)
	add("conv3", []int{2, 192, 56, 56}, 1.1e-5)
	add("maxpool2", []int{2, 192, 28, 28}, 1.1e-5)
	for i, u := range []string{"inception3a", "inception3b", "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "inception5a", "inception5b"} {
		for _, m := range []string{"branch1", "branch2.0", "branch2.1", "branch3.0", "branch3.1", "branch4.1"} {
			add(u+"."+m, []int{2, 64, 28, 28}, 1e-5*float64(1+i))
		}
		add(u, []int{2, 256, 28, 28}, 2e-5*float64(1+i))
	}
	l.Rows = append(l.Rows, htmlreport.Layer{Module: "aux1.conv", Shape: []int{2, 128, 4, 4}, Detail: "no value of the file computes it"})
	add("avgpool", []int{2, 1024, 1, 1}, math.NaN())
	add("logits", []int{2, 1000}, 4.62)
	l.Rows[len(l.Rows)-1].MaxAbs = 4.62
	l.First, l.FirstMaxAbs = "inception4a.branch3.1", 62.5
	d.Layers = l
	for i := 0; i < 2000; i++ {
		d.Errors.Add(float64(i%97+1) * 1e-8)
	}
	d.Errors.Add(0)
	d.Errors.Add(4.62)
	d.Errors.Add(math.NaN())
	return d
}

// writeReport renders reportData into a file of its own.
func writeReport(t *testing.T) (string, *htmlreport.Data) {
	t.Helper()
	d := reportData()
	p := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := htmlreport.Render(f, d); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p, d
}

func fileURL(p string) string { return (&url.URL{Scheme: "file", Path: p}).String() }

// pageFacts is what the test reads back from the rendered page.
type pageFacts struct {
	Title, Verdict, Text string
	Headings             []string
	Scripts, Stylesheets int
	// marks per chart, and those with a rendered box
	LayerMarks, ErrorBars, TopKBars int
	DrawnMarks, DrawnBars           int
	BoundLength                     float64
	Charts                          [][2]float64
	Resources                       int
}

const pageQuery = `(() => {
  const drawn = sel => [...document.querySelectorAll(sel)].filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length;
  const bound = document.querySelector('#chart-layers path.bound');
  return {
    Title: document.title,
    Verdict: document.getElementById('verdict').innerText,
    Text: document.body.innerText,
    Headings: [...document.querySelectorAll('h1, h2')].map(h => h.innerText),
    Scripts: document.scripts.length,
    Stylesheets: document.styleSheets.length,
    LayerMarks: document.querySelectorAll('#chart-layers .mark').length,
    ErrorBars: document.querySelectorAll('#chart-errors .bar').length,
    TopKBars: document.querySelectorAll('#chart-topk .bar').length,
    DrawnMarks: drawn('#chart-layers .mark'),
    DrawnBars: drawn('#chart-errors .bar') + drawn('#chart-topk .bar'),
    BoundLength: bound ? bound.getTotalLength() : 0,
    Charts: [...document.querySelectorAll('svg')].map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; }),
    Resources: performance.getEntriesByType('resource').length,
  };
})()`

func TestReportRendersInChromium(t *testing.T) {
	path := requireChromium(t)
	file, d := writeReport(t)
	b := startChromium(t, path)
	entries := b.open(t, fileURL(file))
	for _, e := range entries {
		// Chromium's own notes (e.g. about the headless mode) are "info"
		// or "verbose"; anything the page makes a warning of counts
		if e.Level == "error" || e.Level == "warning" || e.Source == "exception" {
			t.Errorf("console %s %s: %s", e.Source, e.Level, e.Text)
		}
	}
	var f pageFacts
	b.eval(t, pageQuery, &f)

	if f.Title != "gnconv verify: googlenet.onnx" {
		t.Errorf("title %q", f.Title)
	}
	if !strings.HasPrefix(f.Verdict, "FAIL: logits (max abs error 4.62") {
		t.Errorf("verdict %q", f.Verdict)
	}
	want := []string{"gnconv verify: googlenet.onnx", "Settings", "Outputs", "Layer by layer", "Error distribution", "Top-k agreement", "Per class", "Images classified differently"}
	if strings.Join(f.Headings, "|") != strings.Join(want, "|") {
		t.Errorf("headings %q, want %q", f.Headings, want)
	}
	for _, s := range []string{"inception4a.branch3.1", "first divergence at inception4a.branch3.1", "not compared: no value of the file computes it",
		"<script>alert('goldfish')</script>", "n01440764_10026.JPEG", "structure (onnx-go)"} {
		if !strings.Contains(f.Text, s) {
			t.Errorf("the page does not show %q", s)
		}
	}
	// the markup in a class name stayed text
	if f.Scripts != 0 || f.Stylesheets != 1 || f.Resources != 0 {
		t.Errorf("%d scripts, %d style sheets, %d resources loaded; want 0, 1, 0", f.Scripts, f.Stylesheets, f.Resources)
	}

	compared := 0
	for _, r := range d.Layers.Rows {
		if r.Compared {
			compared++
		}
	}
	if f.LayerMarks != compared || f.DrawnMarks != compared {
		t.Errorf("layer chart: %d marks, %d drawn, for %d modules compared", f.LayerMarks, f.DrawnMarks, compared)
	}
	bins := 0
	for _, c := range append(d.Errors.Counts[:], d.Errors.Below, d.Errors.Above, d.Errors.Zero, d.Errors.NaN, d.Errors.Inf) {
		if c > 0 {
			bins++
		}
	}
	if f.ErrorBars != bins || f.TopKBars != 4 || f.DrawnBars != bins+4 {
		t.Errorf("histogram %d bars (%d bins hold values), top-k %d bars (4 shares), %d drawn", f.ErrorBars, bins, f.TopKBars, f.DrawnBars)
	}
	if f.BoundLength < 100 {
		t.Errorf("the bound line is %.0f px long", f.BoundLength)
	}
	if len(f.Charts) != 3 {
		t.Fatalf("%d charts, want 3", len(f.Charts))
	}
	for i, c := range f.Charts {
		if c[0] < 300 || c[1] < 200 {
			t.Errorf("chart %d is %v px", i, c)
		}
	}
}

// TestReportConsoleSeesFaults: the faults the test above rules out are
// console errors it would see: the page's policy refuses a script or a
// load that got past escaping, and an SVG length that is not a number
// (a NaN coordinate) is reported.
func TestReportConsoleSeesFaults(t *testing.T) {
	path := requireChromium(t)
	file, _ := writeReport(t)
	page, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// what a broken escaper would let through
	bad := strings.Replace(string(page), "</main>", `<img src="file:///nonexistent.png"/><script>console.log("ran")</script><svg><rect width="NaN" height="1"/></svg></main>`, 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	b := startChromium(t, path)
	entries := b.open(t, fileURL(file))
	var errors []string
	for _, e := range entries {
		if e.Source == "console" && strings.Contains(e.Text, "ran") {
			t.Errorf("an inline script ran")
		}
		if e.Level == "error" {
			errors = append(errors, e.Text)
		}
	}
	if len(errors) != 3 {
		t.Errorf("the blocked script and image and the NaN width made %d console errors, want 3: %q", len(errors), errors)
	}
}

// TestReportScreenshotScript: scripts/report-screenshot.sh writes a PNG
// of the size asked for.
func TestReportScreenshotScript(t *testing.T) {
	requireChromium(t)
	file, _ := writeReport(t)
	out := filepath.Join(t.TempDir(), "report.png")
	_, src, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(src), "..", "scripts", "report-screenshot.sh")
	cmd := exec.Command("bash", script, file, out, "1000x1400")
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, o)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if s := img.Bounds().Size(); s.X != 1000 || s.Y != 1400 {
		t.Errorf("screenshot is %v, want 1000x1400", s)
	}
	// a blank page would be one colour
	colours := map[[4]uint32]bool{}
	for y := 0; y < 1400; y += 7 {
		for x := 0; x < 1000; x += 7 {
			r, g, b, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, b, a}] = true
		}
	}
	if len(colours) < 8 {
		t.Errorf("the screenshot has %d colours: blank?", len(colours))
	}
}
