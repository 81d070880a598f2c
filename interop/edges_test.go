package interop

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/preprocess"
	"github.com/gnconv/gnconv/verify"
)

// edgeCase is one combination of import's edge options.
type edgeCase struct {
	pre           string // "", "imagenet-nhwc", "tutorial-nchw"
	softmax, aux  bool
	float16, io16 bool
}

func (e edgeCase) String() string {
	dt := "f32"
	if e.float16 {
		dt = "f16"
		if e.io16 {
			dt += "io16"
		}
	}
	pre := e.pre
	if pre == "" {
		pre = "float"
	}
	return fmt.Sprintf("%s_%s_softmax%v_aux%v", pre, dt, e.softmax, e.aux)
}

func edgeCases() []edgeCase {
	var out []edgeCase
	for _, pre := range []string{"", "imagenet-nhwc", "tutorial-nchw"} {
		for _, dt := range [][2]bool{{false, false}, {true, false}, {true, true}} {
			if pre != "" && dt[1] {
				continue // the input is uint8 either way: import refuses the pair
			}
			for _, sm := range []bool{false, true} {
				for _, aux := range []bool{false, true} {
					out = append(out, edgeCase{pre, sm, aux, dt[0], dt[1]})
				}
			}
		}
	}
	return out
}

func (e edgeCase) emit(t *testing.T, net *graph.Net) ([]byte, *preprocess.Spec) {
	t.Helper()
	o := convert.ONNXOptions{Softmax: e.softmax, Aux: e.aux, Float16: e.float16, Float16IO: e.io16, Version: "test"}
	if e.pre != "" {
		name, layout, _ := strings.Cut(e.pre, "-")
		s, err := preprocess.Preset(name, net.InChannels)
		if err != nil {
			t.Fatal(err)
		}
		s.Layout = layout
		o.Preprocess = &s
	}
	em, err := convert.EmitONNX(net, o)
	if err != nil {
		t.Fatal(err)
	}
	data, err := em.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data, o.Preprocess
}

// bounds are verify's defaults for the file's type.
func (e edgeCase) bounds() (atol, rtol float64) {
	if e.float16 {
		return verify.DefaultATolFloat16, verify.DefaultRTolFloat16
	}
	return verify.DefaultATol, verify.DefaultRTol
}

// maxErr is the largest absolute difference (Inf on NaN, Inf or a length
// mismatch) and the largest absolute value of want.
func maxErr(got, want []float32) (diff, ref float64) {
	if len(got) != len(want) {
		return math.Inf(1), 0
	}
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) || math.IsInf(float64(got[i]), 0) {
			d = math.Inf(1)
		}
		diff = math.Max(diff, d)
		ref = math.Max(ref, math.Abs(float64(want[i])))
	}
	return diff, ref
}

// TestEdgeVariantsInORT runs every combination of preprocessing, softmax,
// aux outputs and float16 (float32 or float16 edges) in onnxruntime, on
// both fixture layouts, and holds onnxruntime's outputs to the float32
// reference pass and to gnconv's interpreter, under verify's default
// bound for the file's type. The float16 errors it logs (-v) are
// onnxruntime's side of the float16 bound's derivation.
func TestEdgeVariantsInORT(t *testing.T) {
	requireORT(t)
	worst := map[string]float64{}
	for _, mf := range loadModels(t, false) {
		for _, e := range edgeCases() {
			checkEdgeCase(t, mf.name, mf.net, mf.x, 2, e, worst)
		}
	}
	for k, v := range worst {
		t.Logf("float16, onnxruntime vs reference: %-40s %.3g", k, v)
	}
}

// TestEdgeVariantsOtherPresets: the same on the family's other presets,
// built by real PyTorch: d2l (one input channel, 96x96, where imagenet's
// three means are refused and tutorial's one fits), its RGB 224 variant
// and cifar (32x32).
func TestEdgeVariantsOtherPresets(t *testing.T) {
	requirePython(t, "torch", "torchvision")
	requireORT(t)
	dir := t.TempDir()
	m := makeFamily(t, dir)
	worst := map[string]float64{}
	for _, fm := range m.Models {
		if fm.Name != "d2l" && fm.Name != "d2l_rgb224" && fm.Name != "cifar" {
			continue
		}
		ck, err := convert.ReadCheckpoint(filepath.Join(dir, fm.Name+".pth"))
		if err != nil {
			t.Fatal(err)
		}
		net, _, err := graph.Load(ck.StateDict, graph.Options{})
		if err != nil {
			t.Fatal(err)
		}
		in := fm.Input.Shape
		x := readF32File(t, filepath.Join(dir, fm.Input.File), in)
		net.Size = [2]int{in[2], in[3]}
		if _, err := preprocess.Preset("imagenet", net.InChannels); (err == nil) != (net.InChannels == 3) {
			t.Errorf("%s: imagenet preprocessing for %d channels: %v", fm.Name, net.InChannels, err)
		}
		for _, e := range edgeCases() {
			if strings.HasPrefix(e.pre, "imagenet") && net.InChannels != 3 {
				continue
			}
			checkEdgeCase(t, fm.Name, net, x, in[0], e, worst)
		}
	}
	for k, v := range worst {
		t.Logf("float16, onnxruntime vs reference: %-40s %.3g", k, v)
	}
}

// checkEdgeCase emits one combination for net, runs it in onnxruntime and
// in the interpreter on x (a batch of n at the network's size; uint8
// pixels drawn at random for a file that takes them) and holds
// onnxruntime's outputs to the reference and to the interpreter's under
// verify's default bound for the file's type. The float16 errors against
// the reference go into worst.
func checkEdgeCase(t *testing.T, name string, net *graph.Net, x []float32, n int, e edgeCase, worst map[string]float64) {
	t.Helper()
	o := convert.ONNXOptions{Softmax: e.softmax, Aux: e.aux && net.HasAux(), Float16: e.float16, Float16IO: e.io16, Version: "test"}
	if e.aux && !net.HasAux() {
		return
	}
	if e.pre != "" {
		pname, layout, _ := strings.Cut(e.pre, "-")
		s, err := preprocess.Preset(pname, net.InChannels)
		if err != nil {
			t.Fatal(err)
		}
		s.Layout = layout
		o.Preprocess = &s
	}
	em, err := convert.EmitONNX(net, o)
	if err != nil {
		t.Fatalf("%s %v: %v", name, e, err)
	}
	data, err := em.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	spec := o.Preprocess
	h, w := net.Size[0], net.Size[1]
	in := Typed{Elem: Float32, Shape: []int64{int64(n), int64(net.InChannels), int64(h), int64(w)}, Data: x}
	if e.io16 {
		in.Elem = Float16
	}
	if spec != nil {
		rng := rand.New(rand.NewSource(3))
		px := make([]float32, n*net.InChannels*h*w)
		for i := range px {
			px[i] = float32(rng.Intn(256))
		}
		in = Typed{Elem: Uint8, Data: px}
		for _, d := range spec.Shape(n, h, w) {
			in.Shape = append(in.Shape, int64(d))
		}
		x = spec.Normalize(px, n, h, w)
	}
	ref, err := net.Forward(x, n, h, w, o.Aux)
	if err != nil {
		t.Fatal(err)
	}
	var outs []Typed
	var outNames []string
	for _, r := range ref {
		el := Float32
		if e.io16 {
			el = Float16
		}
		outs = append(outs, Typed{Elem: el, Shape: []int64{int64(n), int64(net.Classes)}})
		on := r.Name
		if e.softmax {
			on = convert.ProbabilitiesName(on)
		}
		outNames = append(outNames, on)
	}
	inName := "input"
	if spec != nil {
		inName = "image"
	}
	s, err := NewSessionInputs(data, []string{inName}, outNames, 0)
	if err != nil {
		t.Fatalf("%s %v: onnxruntime refuses the file: %v", name, e, err)
	}
	got, err := s.RunTyped([]Typed{in}, outs)
	s.Close()
	if err != nil {
		t.Fatalf("%s %v: onnxruntime: %v", name, e, err)
	}
	m, err := verify.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	iv := &verify.Value{Shape: make([]int, len(in.Shape)), F: in.Data}
	for i, d := range in.Shape {
		iv.Shape[i] = int(d)
	}
	interp, err := m.Run(map[string]*verify.Value{inName: iv})
	if err != nil {
		t.Fatalf("%s %v: interpreter: %v", name, e, err)
	}
	atol, rtol := e.bounds()
	for i, r := range ref {
		want := r.Data
		if e.softmax {
			want = verify.SoftmaxRows(want, net.Classes)
		}
		d, mx := maxErr(got[i], want)
		if bound := atol + rtol*mx; !(d <= bound) {
			t.Errorf("%s %v %s: onnxruntime vs reference: max abs %.3g over %.3g", name, e, outNames[i], d, bound)
		}
		di, mxi := maxErr(got[i], interp[i].F)
		if bound := atol + rtol*mxi; !(di <= bound) {
			t.Errorf("%s %v %s: onnxruntime vs interpreter: max abs %.3g over %.3g", name, e, outNames[i], di, bound)
		}
		if e.float16 {
			k := fmt.Sprintf("%s %s", name, r.Name)
			if e.softmax {
				k += " softmax (abs)"
				worst[k] = math.Max(worst[k], d)
			} else {
				worst[k] = math.Max(worst[k], d/mx)
			}
		}
	}
}

// TestEdgeVariantsPassChecker: onnx.checker's full check (with shape
// inference) accepts every combination.
func TestEdgeVariantsPassChecker(t *testing.T) {
	requirePython(t, "onnx")
	dir := t.TempDir()
	var files []string
	for _, mf := range loadModels(t, false) {
		for _, e := range edgeCases() {
			data, _ := e.emit(t, mf.net)
			p := filepath.Join(dir, strings.TrimSuffix(mf.name, ".pth")+"_"+e.String()+".onnx")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, p)
		}
	}
	checkAll(t, files)
}

// TestDynamicSizeInORT: a file written with --size dynamic runs in
// onnxruntime and in the interpreter at the layout's size, at the
// smallest size and at an uneven one, float32 and float16, float and
// pixel inputs, and matches the reference pass at each; onnx.checker's
// full check accepts it.
func TestDynamicSizeInORT(t *testing.T) {
	requireORT(t)
	var files []string
	dir := t.TempDir()
	for _, mf := range loadModels(t, false) {
		net := mf.net
		mh, mw := convert.MinInputSize(net)
		for _, e := range []edgeCase{{}, {float16: true, softmax: true}, {pre: "imagenet-nhwc"}, {pre: "tutorial-nchw", float16: true}} {
			o := convert.ONNXOptions{Dynamic: true, Softmax: e.softmax, Float16: e.float16, Version: "test"}
			if e.pre != "" {
				pname, layout, _ := strings.Cut(e.pre, "-")
				s, err := preprocess.Preset(pname, net.InChannels)
				if err != nil {
					t.Fatal(err)
				}
				s.Layout = layout
				o.Preprocess = &s
			}
			em, err := convert.EmitONNX(net, o)
			if err != nil {
				t.Fatal(err)
			}
			data, err := em.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, strings.TrimSuffix(mf.name, ".pth")+"_dynamic_"+e.String()+".onnx")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, p)
			m, err := verify.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			inName, outName := "input", "logits"
			if o.Preprocess != nil {
				inName = "image"
			}
			if e.softmax {
				outName = convert.ProbabilitiesName(outName)
			}
			s, err := NewSessionInputs(data, []string{inName}, []string{outName}, 0)
			if err != nil {
				t.Fatalf("%s %v: onnxruntime refuses the file: %v", mf.name, e, err)
			}
			for _, size := range [][2]int{net.Size, {mh, mw}, {mh + 50, mw + 83}} {
				const n = 1
				h, w := size[0], size[1]
				rng := rand.New(rand.NewSource(int64(h*1000 + w)))
				x := make([]float32, n*net.InChannels*h*w)
				in := Typed{Elem: Float32, Shape: []int64{n, int64(net.InChannels), int64(h), int64(w)}, Data: x}
				if o.Preprocess != nil {
					for i := range x {
						x[i] = float32(rng.Intn(256))
					}
					in = Typed{Elem: Uint8, Data: x, Shape: nil}
					for _, d := range o.Preprocess.Shape(n, h, w) {
						in.Shape = append(in.Shape, int64(d))
					}
					x = o.Preprocess.Normalize(x, n, h, w)
				} else {
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
				}
				ref, err := net.WithoutAux().Forward(x, n, h, w, false)
				if err != nil {
					t.Fatalf("%dx%d: %v", h, w, err)
				}
				want := ref[0].Data
				if e.softmax {
					want = verify.SoftmaxRows(want, net.Classes)
				}
				got, err := s.RunTyped([]Typed{in}, []Typed{{Elem: Float32, Shape: []int64{n, int64(net.Classes)}}})
				if err != nil {
					t.Fatalf("%s %v at %dx%d: onnxruntime: %v", mf.name, e, h, w, err)
				}
				iv := &verify.Value{F: in.Data}
				for _, d := range in.Shape {
					iv.Shape = append(iv.Shape, int(d))
				}
				interp, err := m.Run(map[string]*verify.Value{inName: iv})
				if err != nil {
					t.Fatalf("%s %v at %dx%d: interpreter: %v", mf.name, e, h, w, err)
				}
				atol, rtol := e.bounds()
				for what, vals := range map[string][]float32{"onnxruntime": got[0], "interpreter": interp[0].F} {
					d, mx := maxErr(vals, want)
					if bound := atol + rtol*mx; !(d <= bound) {
						t.Errorf("%s %v at %dx%d: %s vs reference: max abs %.3g over %.3g", mf.name, e, h, w, what, d, bound)
					}
				}
			}
			s.Close()
		}
	}
	requirePython(t, "onnx")
	checkAll(t, files)
}
