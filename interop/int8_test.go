package interop

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/convert/calib"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/internal/preprocess"
	"github.com/gnconv/gnconv/verify"
	"github.com/gnconv/gnconv/verify/imageprep"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"
)

// int8File is one int8 file made from a fixture, calibrated on the photo
// folder, with a batch of the folder's images prepared for it.
type int8File struct {
	name   string
	net    *graph.Net
	data   []byte
	step   float32 // the logits' quantization step
	q      *convert.Int8
	images []float32
	n      int
}

// fixtureNet is a fixture's network, bound by its preset layout.
func fixtureNet(t *testing.T, name string) *graph.Net {
	t.Helper()
	ck, err := fixture.Checkpoint(name)
	if err != nil {
		t.Fatal(err)
	}
	net, _, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// deployNet is a fixture's network as deployed, without the aux heads.
func deployNet(t *testing.T, name string) *graph.Net {
	t.Helper()
	return fixtureNet(t, name).WithoutAux()
}

// int8Images is how many of the folder's images the comparisons run.
const int8Images = 32

// int8Made holds int8Files' files: calibration is the slow part, done
// once for the tests that share them.
var int8Made struct {
	sync.Mutex
	files []int8File
}

// int8Files calibrates each fixture's main path on the photo folder once
// and writes a file by each method from the same statistics.
func int8Files(t *testing.T) []int8File {
	t.Helper()
	dir := photoFolder(t)
	int8Made.Lock()
	defer int8Made.Unlock()
	if int8Made.files != nil {
		return int8Made.files
	}
	var files []int8File
	for _, fx := range []struct{ name, preset string }{{"tutorial_aux.pth", "tutorial"}, {"torchvision_aux.pth", "imagenet"}} {
		net := deployNet(t, fx.name)
		h, w := net.Size[0], net.Size[1]
		spec, err := imageprep.Preset(fx.preset, h, w, net.InChannels)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		c, err := calib.Collect(context.Background(), net, dir, calib.FolderOptions{Spec: spec, Height: h, Width: w})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: calibrated on %d images in %.1fs", fx.name, c.Images(), time.Since(start).Seconds())
		f, err := imageprep.ScanFolder(dir)
		if err != nil {
			t.Fatal(err)
		}
		size := net.InChannels * h * w
		n := min(int8Images, len(f.Items))
		images := make([]float32, n*size)
		for i := 0; i < n; i++ {
			// every k-th image, so each class is among them
			item := f.Items[i*len(f.Items)/n]
			if err := spec.Load(item.Path, net.InChannels, 0, images[i*size:(i+1)*size]); err != nil {
				t.Fatal(err)
			}
		}
		for _, method := range calib.Methods {
			q, err := c.Int8(calib.Options{Method: method})
			if err != nil {
				t.Fatal(err)
			}
			em, err := convert.EmitONNX(net, convert.ONNXOptions{Version: "test", Int8: q})
			if err != nil {
				t.Fatal(err)
			}
			data, err := em.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			var step float32
			for _, x := range em.Model.Graph.Initializer {
				if x.GetName() == "logits.scale" {
					step = math.Float32frombits(uint32(x.RawData[0]) | uint32(x.RawData[1])<<8 | uint32(x.RawData[2])<<16 | uint32(x.RawData[3])<<24)
				}
			}
			if !(step > 0) {
				t.Fatal("no logits.scale")
			}
			files = append(files, int8File{strings.TrimSuffix(fx.name, ".pth") + "_" + method, net, data, step, q, images, n})
		}
	}
	int8Made.files = files
	return files
}

// int8MaxSteps bounds how far onnxruntime's logits and the interpreter's
// may lie apart on the same int8 file, in quantization steps of the
// logits: one, as the files promise. The interpreter computes each
// quantized layer in integers as onnxruntime's QLinearConv, QGemm and
// QLinearGlobalAveragePool do (ops.IntConv), and on CPUs with VNNI the
// two agree on every quantized value (TestInt8QuantizedTensorsAsORT).
// Computing those layers in float32 from the dequantized values instead
// left the logits up to 2 steps apart (sums within float32's rounding of
// a half step round the other way, and the one-step differences grow
// layer by layer: up to 6 steps inside inception4e).
const int8MaxSteps = 1

// TestInt8InORT: each int8 file runs in onnxruntime and in the
// interpreter on the photo folder's images with logits at most
// int8MaxSteps quantization steps apart; against the float32 reference
// pass, the interpreter's top-1 agreement is reported and the weights
// pass verify's check.
func TestInt8InORT(t *testing.T) {
	requireORT(t)
	for _, f := range int8Files(t) {
		net := f.net
		h, w := net.Size[0], net.Size[1]
		shape := []int64{int64(f.n), int64(net.InChannels), int64(h), int64(w)}
		s, err := NewSession(f.data, "input", []string{"logits"}, 1)
		if err != nil {
			t.Fatalf("%s: onnxruntime: %v", f.name, err)
		}
		outs, err := s.Run(f.images, shape...)
		s.Close()
		if err != nil {
			t.Fatalf("%s: onnxruntime: %v", f.name, err)
		}
		m, err := verify.Parse(f.data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Run(map[string]*verify.Value{"input": {Shape: []int{f.n, net.InChannels, h, w}, F: f.images}})
		if err != nil {
			t.Fatalf("%s: interpreter: %v", f.name, err)
		}
		ref, err := net.Forward(f.images, f.n, h, w, false)
		if err != nil {
			t.Fatal(err)
		}
		ortLogits, ipLogits, refLogits := outs[0], got[0].F, ref[0].Data
		if len(ortLogits) != len(ipLogits) || len(ipLogits) != len(refLogits) {
			t.Fatalf("%s: %d, %d and %d logits", f.name, len(ortLogits), len(ipLogits), len(refLogits))
		}
		worst, differ := 0.0, 0
		for i := range ortLogits {
			d := math.Abs(float64(ortLogits[i])-float64(ipLogits[i])) / float64(f.step)
			if math.IsNaN(d) || math.IsInf(d, 0) {
				t.Fatalf("%s: logit %d: onnxruntime %g, interpreter %g", f.name, i, ortLogits[i], ipLogits[i])
			}
			if d > 0.01 {
				differ++
			}
			worst = math.Max(worst, d)
		}
		classes := net.Classes
		agree, agreeORT, maxRef, maxErr := 0, 0, 0.0, 0.0
		for r := 0; r < f.n; r++ {
			row := func(v []float32) []float32 { return v[r*classes : (r+1)*classes] }
			if argmax(row(ipLogits)) == argmax(row(refLogits)) {
				agree++
			}
			if argmax(row(ortLogits)) == argmax(row(refLogits)) {
				agreeORT++
			}
		}
		for i := range refLogits {
			maxRef = math.Max(maxRef, math.Abs(float64(refLogits[i])))
			maxErr = math.Max(maxErr, math.Abs(float64(ipLogits[i])-float64(refLogits[i])))
		}
		t.Logf("%s: onnxruntime and the interpreter: %d of %d logits differ, by at most %.2f steps (step %.3g); against the reference: max abs %.3g (%.3g of max |reference|), top-1 agreement %d/%d interpreter, %d/%d onnxruntime",
			f.name, differ, len(ortLogits), worst, f.step, maxErr, maxErr/maxRef, agree, f.n, agreeORT, f.n)
		if worst > int8MaxSteps+1e-3 {
			t.Errorf("%s: onnxruntime and the interpreter differ by %.2f quantization steps of the logits, over %d", f.name, worst, int8MaxSteps)
		}
		if qc := verify.CheckQuantized(m, net); qc == nil || !qc.Pass {
			t.Errorf("%s: the weight check fails: %+v", f.name, qc)
		}
		ops := ortOptimizedOps(t, f.data)
		t.Logf("%s: onnxruntime runs %v", f.name, ops)
		// every convolution and the linear layer on integers: none is left
		// in float between a DequantizeLinear and a QuantizeLinear
		if ops["QLinearConv"] != len(net.Convs()) || ops["Conv"]+ops["FusedConv"]+ops["Gemm"]+ops["FusedGemm"] != 0 {
			t.Errorf("%s: onnxruntime's optimized graph runs %v, not %d QLinearConv and no float convolution", f.name, ops, len(net.Convs()))
		}
	}
}

// ortOptimizedOps is the operator count of the graph onnxruntime runs for
// a model after its optimizations (written by the session and read back).
func ortOptimizedOps(t *testing.T, model []byte) map[string]int {
	t.Helper()
	p := filepath.Join(t.TempDir(), "optimized.onnx")
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetOptimizedModelFilePath(p); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, []string{"input"}, []string{"logits"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Destroy()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	pm := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, pm); err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, n := range pm.GetGraph().GetNode() {
		ops[n.GetOpType()]++
	}
	return ops
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// int8Variant is an int8 file made for deployment: uint8 pixels in,
// normalised in the graph, and optionally probabilities out.
type int8Variant struct {
	name    string
	file    int8File
	data    []byte
	spec    *preprocess.Spec
	softmax bool
}

// int8Variants are each fixture's minmax file with the pixel input its
// preset calls for (imagenet as NHWC, tutorial as NCHW), with and without
// --softmax.
func int8Variants(t *testing.T) []int8Variant {
	t.Helper()
	var out []int8Variant
	for _, f := range int8Files(t) {
		if !strings.HasSuffix(f.name, "_minmax") {
			continue
		}
		name, layout := "imagenet", preprocess.NHWC
		if strings.HasPrefix(f.name, "tutorial") {
			name, layout = "tutorial", preprocess.NCHW
		}
		s, err := preprocess.Preset(name, f.net.InChannels)
		if err != nil {
			t.Fatal(err)
		}
		s.Layout = layout
		for _, softmax := range []bool{false, true} {
			em, err := convert.EmitONNX(f.net, convert.ONNXOptions{Version: "test", Int8: f.q, Preprocess: &s, Softmax: softmax})
			if err != nil {
				t.Fatal(err)
			}
			data, err := em.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, int8Variant{fmt.Sprintf("%s_%s-%s_softmax%v", f.name, name, layout, softmax), f, data, &s, softmax})
		}
	}
	return out
}

// TestInt8DeployVariantsInORT: the int8 files that take uint8 pixels (and
// those that output probabilities) run in onnxruntime and in the
// interpreter with the same logits, and probabilities within float32's
// rounding of the same softmax.
func TestInt8DeployVariantsInORT(t *testing.T) {
	requireORT(t)
	for _, v := range int8Variants(t) {
		net := v.file.net
		h, w := net.Size[0], net.Size[1]
		n := 4
		rng := rand.New(rand.NewSource(11))
		px := make([]float32, n*net.InChannels*h*w)
		for i := range px {
			px[i] = float32(rng.Intn(256))
		}
		in := Typed{Elem: Uint8, Data: px}
		shape := make([]int, 0, 4)
		for _, d := range v.spec.Shape(n, h, w) {
			in.Shape = append(in.Shape, int64(d))
			shape = append(shape, d)
		}
		out := "logits"
		if v.softmax {
			out = convert.ProbabilitiesName(out)
		}
		s, err := NewSessionInputs(v.data, []string{"image"}, []string{out}, 1)
		if err != nil {
			t.Fatalf("%s: onnxruntime refuses the file: %v", v.name, err)
		}
		got, err := s.RunTyped([]Typed{in}, []Typed{{Elem: Float32, Shape: []int64{int64(n), int64(net.Classes)}}})
		s.Close()
		if err != nil {
			t.Fatalf("%s: onnxruntime: %v", v.name, err)
		}
		m, err := verify.Parse(v.data)
		if err != nil {
			t.Fatal(err)
		}
		interp, err := m.Run(map[string]*verify.Value{"image": {Shape: shape, F: px}})
		if err != nil {
			t.Fatalf("%s: interpreter: %v", v.name, err)
		}
		bound := float64(v.file.step) * int8MaxSteps
		if v.softmax {
			// the same logits through two float32 softmaxes: measured
			// 5.96e-8 (half a unit in the last place of 1), bound 4 times
			bound = 2.5e-7
		}
		d, _ := maxErr(got[0], interp[0].F)
		t.Logf("%s: onnxruntime and the interpreter: max abs %.3g (bound %.3g)", v.name, d, bound)
		if !(d <= bound) {
			t.Errorf("%s: onnxruntime and the interpreter differ by %.3g, over %.3g", v.name, d, bound)
		}
	}
}

// TestInt8PassesChecker: onnx.checker's full check (with shape inference)
// accepts every int8 file, those for deployment with pixels in too.
func TestInt8PassesChecker(t *testing.T) {
	requirePython(t, "onnx")
	dir := t.TempDir()
	var files []string
	all := map[string][]byte{}
	for _, f := range int8Files(t) {
		all[f.name] = f.data
	}
	for _, v := range int8Variants(t) {
		all[v.name] = v.data
	}
	for name, data := range all {
		p := filepath.Join(dir, name+".onnx")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	checkAll(t, files)
}

// TestInt8PhotoFolder: verify --images' comparison of each fixture's
// minmax int8 file with the float32 reference over the whole photo
// folder passes under the int8 bound, with the top-1 agreement and the
// accuracy change logged. (A folder run takes a minute or more on two
// shared cores; the percentile and entropy files' runs are in
// docs/verify.md, made with the CLI.)
func TestInt8PhotoFolder(t *testing.T) {
	dir := photoFolder(t)
	f, err := imageprep.ScanFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range int8Files(t) {
		if !strings.HasSuffix(file.name, "_minmax") {
			continue
		}
		m, err := verify.Parse(file.data)
		if err != nil {
			t.Fatal(err)
		}
		preset := "imagenet"
		if strings.HasPrefix(file.name, "tutorial") {
			preset = "tutorial"
		}
		spec, err := imageprep.Preset(preset, file.net.Size[0], file.net.Size[1], file.net.InChannels)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		rep, err := verify.RunFolder(context.Background(), m, file.net, f, verify.FolderOptions{Spec: spec})
		if err != nil {
			t.Fatalf("%s: %v", file.name, err)
		}
		o := rep.Outputs[0]
		msg := fmt.Sprintf("%s on %d images: logits max abs %.3g (bound %.3g), top-1 agreement %.2f%%, top-5 %.2f%%",
			file.name, rep.Images, o.MaxAbs, o.Bound, 100*o.Top1, 100*o.Top5)
		if a := rep.Accuracy; a != nil {
			msg += fmt.Sprintf(", accuracy %.2f%% (float32 %.2f%%, change %+.2f points)", 100*a.ONNXTop1, 100*a.ReferenceTop1, 100*(a.ONNXTop1-a.ReferenceTop1))
		}
		t.Logf("%s, in %.0fs", msg, time.Since(start).Seconds())
		if !rep.Pass {
			t.Errorf("%s: fails verify's int8 bound", msg)
		}
	}
}
