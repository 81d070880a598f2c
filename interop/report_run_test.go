package interop

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/internal/kernels"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/verify"
	"github.com/gnconv/gnconv/verify/htmlreport"
	"google.golang.org/protobuf/proto"
)

// reportFromVerify fills a report's Data from what verify.Run returns,
// field by field.
func reportFromVerify(rep *verify.Report, model, weights string, opts verify.Options) *htmlreport.Data {
	d := &htmlreport.Data{Model: model, Weights: weights, Pass: rep.Pass,
		Settings: htmlreport.Settings{ATol: opts.ATol, RTol: opts.RTol, Kernel: kernels.KernelName(), Opset: rep.Opset,
			Images: len(opts.Images)}}
	var failing []string
	for _, o := range rep.Outputs {
		d.Outputs = append(d.Outputs, htmlreport.Output{Name: o.Name, Reference: o.Reference, MaxAbs: o.MaxAbs, Bound: o.Bound,
			MaxRel: o.MaxRel, Cosine: o.Cosine, Top1: o.Top1, Top5: o.Top5, Pass: o.Pass, Detail: o.Shape})
		d.TopK = append(d.TopK, htmlreport.TopK{Output: o.Name, Points: []htmlreport.KShare{{K: 1, Share: o.Top1}, {K: 5, Share: o.Top5}}})
		if !o.Pass {
			failing = append(failing, o.Name)
		}
	}
	d.Checks = append(d.Checks, htmlreport.Check{Name: "structure (onnx-go)", Pass: rep.Structure.Pass, Detail: rep.Structure.Detail})
	if l := rep.Layers; l != nil {
		dl := &htmlreport.Layers{Batch: l.Batch, First: l.First, FirstMaxAbs: l.FirstMaxAbs, Error: l.Error}
		for _, r := range l.Layers {
			dl.Rows = append(dl.Rows, htmlreport.Layer{Module: r.Module, Value: r.Value, Shape: r.Shape, MaxAbs: r.MaxAbs,
				MaxRel: r.MaxRel, Cosine: r.Cosine, Bound: r.Bound, Compared: r.Compared, Pass: r.Pass, Detail: r.Detail})
		}
		d.Layers = dl
	}
	d.Verdict = strings.Join(failing, ", ")
	if div := rep.Layers.Divergence(); div != "" {
		d.Verdict += "; " + div
	}
	return d
}

// TestReportOfAVerifyRun: the report of a real verification, of a file
// with one weight of one Inception branch changed, opens in chromium
// with no console error and shows where the difference starts.
func TestReportOfAVerifyRun(t *testing.T) {
	path := requireChromium(t)
	net := fixtureNet(t, "tutorial_aux.pth")
	model, err := convert.EmitONNX(net, convert.ONNXOptions{Aux: true})
	if err != nil {
		t.Fatal(err)
	}
	data, err := model.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pm := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, pm); err != nil {
		t.Fatal(err)
	}
	altered := false
	for _, init := range pm.Graph.Initializer {
		if n := init.GetName(); strings.HasPrefix(n, "inception4a.branch3.1") && strings.HasSuffix(n, "weight") && !altered {
			v := math.Float32frombits(binary.LittleEndian.Uint32(init.RawData[4*40:]))
			binary.LittleEndian.PutUint32(init.RawData[4*40:], math.Float32bits(v+2))
			altered = true
		}
	}
	if !altered {
		t.Fatal("no weight of inception4a.branch3.1 in the file")
	}
	if data, err = proto.Marshal(pm); err != nil {
		t.Fatal(err)
	}
	opts := verify.Options{Inputs: 1, Seed: 5, Layers: true, ATol: verify.DefaultATol, RTol: verify.DefaultRTol}
	rep, err := verify.Run(data, net, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass || rep.Layers == nil || rep.Layers.First != "inception4a.branch3.1" {
		t.Fatalf("verify passed or named another module: %+v", rep.Layers)
	}
	d := reportFromVerify(rep, "googlenet.onnx", "tutorial_aux.pth", opts)
	file := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := htmlreport.Render(f, d); err != nil {
		t.Fatal(err)
	}
	f.Close()

	b := startChromium(t, path)
	for _, e := range b.open(t, fileURL(file)) {
		if e.Level == "error" || e.Level == "warning" || e.Source == "exception" {
			t.Errorf("console %s %s: %s", e.Source, e.Level, e.Text)
		}
	}
	var got pageFacts
	b.eval(t, pageQuery, &got)
	if !strings.HasPrefix(got.Verdict, "FAIL: ") || !strings.Contains(got.Verdict, "first divergence at inception4a.branch3.1") {
		t.Errorf("verdict %q", got.Verdict)
	}
	compared := 0
	for _, r := range rep.Layers.Layers {
		if r.Compared {
			compared++
		}
	}
	if compared < 60 || got.LayerMarks != compared || got.DrawnMarks != compared {
		t.Errorf("%d modules compared, %d marks, %d drawn", compared, got.LayerMarks, got.DrawnMarks)
	}
	if got.TopKBars != 2*len(rep.Outputs) {
		t.Errorf("%d top-k bars for %d outputs", got.TopKBars, len(rep.Outputs))
	}
	if !strings.Contains(got.Text, "The first divergence, in network order, is at inception4a.branch3.1") {
		t.Error("the page does not name the first divergence")
	}
}
