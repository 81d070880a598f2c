package verify

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/onnxpb"
	pixnorm "github.com/gnconv/gnconv/internal/preprocess"
	"google.golang.org/protobuf/proto"
)

// edgeVariant is one combination of import's edge options.
type edgeVariant struct {
	pre            string // "", imagenet-nhwc, tutorial-nchw
	softmax, aux   bool
	float16, f16IO bool
}

func (v edgeVariant) String() string {
	return fmt.Sprintf("pre=%s softmax=%v aux=%v f16=%v io16=%v", v.pre, v.softmax, v.aux, v.float16, v.f16IO)
}

func (v edgeVariant) options(t *testing.T, net *graph.Net) convert.ONNXOptions {
	t.Helper()
	o := convert.ONNXOptions{Softmax: v.softmax, Aux: v.aux, Float16: v.float16, Float16IO: v.f16IO, Version: "test"}
	if v.pre != "" {
		name, layout, _ := strings.Cut(v.pre, "-")
		s, err := pixnorm.Preset(name, net.InChannels)
		if err != nil {
			t.Fatal(err)
		}
		s.Layout = layout
		o.Preprocess = &s
	}
	return o
}

func edgeVariants() []edgeVariant {
	var vs []edgeVariant
	for _, pre := range []string{"", "imagenet-nhwc", "tutorial-nchw"} {
		for _, dt := range [][2]bool{{false, false}, {true, false}, {true, true}} {
			for _, sm := range []bool{false, true} {
				for _, aux := range []bool{false, true} {
					vs = append(vs, edgeVariant{pre, sm, aux, dt[0], dt[1]})
				}
			}
		}
	}
	return vs
}

func emitBytes(t *testing.T, net *graph.Net, opts convert.ONNXOptions) []byte {
	t.Helper()
	em, err := convert.EmitONNX(net, opts)
	if err != nil {
		t.Fatal(err)
	}
	data, err := em.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestEdgeVariantsVerify: every combination of preprocessing, softmax,
// aux outputs and float16 (with float32 or float16 edges) runs in the
// interpreter and passes verify under its type's default bound, with the
// outputs mapped to the reference by name.
func TestEdgeVariantsVerify(t *testing.T) {
	nets := map[string]*graph.Net{"tutorial": fixtureNet(t, "tutorial_aux.pth"), "torchvision": fixtureNet(t, "torchvision_aux.pth")}
	for _, name := range []string{"tutorial", "torchvision"} {
		net := nets[name]
		for _, v := range edgeVariants() {
			if testing.Short() && v.aux && name == "torchvision" {
				continue
			}
			data := emitBytes(t, net, v.options(t, net))
			rep, err := Run(data, net, Options{Batch: 2})
			if err != nil {
				t.Fatalf("%s %v: %v", name, v, err)
			}
			want := []string{"logits"}
			if v.aux {
				want = append(want, "aux1", "aux2")
			}
			for i, o := range rep.Outputs {
				wantName := want[i]
				if v.softmax {
					wantName = convert.ProbabilitiesName(want[i])
				}
				if o.Name != wantName || o.Reference != want[i] || o.Softmax != v.softmax {
					t.Errorf("%s %v: output %d is %s (reference %s, softmax %v)", name, v, i, o.Name, o.Reference, o.Softmax)
				}
			}
			if !rep.Pass {
				t.Errorf("%s %v: verify fails: %+v", name, v, rep.Outputs[0])
			}
			if !rep.Structure.Pass {
				t.Errorf("%s %v: structure: %s", name, v, rep.Structure.Detail)
			}
		}
	}
}

// TestPreprocessMetadataMismatchFails: the recorded mean and std drive
// the reference's normalisation and the interpreter runs the file's
// nodes, so a file whose metadata says another normalisation than its
// nodes compute fails, and so does one whose nodes were changed.
func TestPreprocessMetadataMismatchFails(t *testing.T) {
	net := fixtureNet(t, "tutorial_aux.pth")
	v := edgeVariant{pre: "imagenet-nhwc"}
	data := emitBytes(t, net, v.options(t, net))
	rep, err := Run(data, net, Options{})
	if err != nil || !rep.Pass {
		t.Fatalf("the file as written: %v %+v", err, rep)
	}
	edit := func(f func(m *onnxpb.ModelProto)) []byte {
		m := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(data, m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string][]byte{
		"metadata mean": edit(func(m *onnxpb.ModelProto) {
			for _, p := range m.MetadataProps {
				if p.GetKey() == pixnorm.KeyMean {
					p.Value = proto.String("0.5,0.456,0.406")
				}
			}
		}),
		"metadata layout": edit(func(m *onnxpb.ModelProto) {
			for _, p := range m.MetadataProps {
				if p.GetKey() == pixnorm.KeyInputLayout {
					p.Value = proto.String("nchw")
				}
			}
		}),
		"node std": edit(func(m *onnxpb.ModelProto) {
			for _, in := range m.Graph.Initializer {
				if in.GetName() == "preprocess.std" {
					in.RawData[2] ^= 0x08 // 0.229 becomes 0.221 on the red channel
				}
			}
		}),
	}
	for name, b := range cases {
		rep, err := Run(b, net, Options{})
		if err != nil {
			continue // refused outright (the layout's shape no longer fits): not a PASS
		}
		if rep.Pass {
			t.Errorf("%s changed, yet verify passes: %+v", name, rep.Outputs)
		}
	}
	// no metadata at all: verify cannot know the normalisation
	bare := edit(func(m *onnxpb.ModelProto) { m.MetadataProps = nil })
	if _, err := Run(bare, net, Options{}); err == nil || !strings.Contains(err.Error(), "records no preprocessing") {
		t.Errorf("a uint8 input without recorded preprocessing: %v", err)
	}
}

// TestOldSoftmaxFilesVerify: files written before the probabilities
// naming (outputs logits, aux1, aux2 computed by a Softmax from
// logits.raw, ...) verify as before.
func TestOldSoftmaxFilesVerify(t *testing.T) {
	net := fixtureNet(t, "tutorial_aux.pth")
	em, err := convert.EmitONNX(net, convert.ONNXOptions{Softmax: true, Aux: true})
	if err != nil {
		t.Fatal(err)
	}
	rename := map[string]string{}
	for _, o := range []string{"logits", "aux1", "aux2"} {
		rename[o] = o + ".raw"
		rename[convert.ProbabilitiesName(o)] = o
	}
	g := em.Model.Graph
	for _, n := range g.Node {
		for i, x := range n.Input {
			if r, ok := rename[x]; ok {
				n.Input[i] = r
			}
		}
		for i, x := range n.Output {
			if r, ok := rename[x]; ok {
				n.Output[i] = r
			}
		}
	}
	for _, o := range g.Output {
		o.Name = proto.String(rename[o.GetName()])
	}
	data, err := em.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(data, net, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rep.Outputs {
		if !o.Softmax || o.Name != o.Reference {
			t.Errorf("output %s: reference %s, softmax %v", o.Name, o.Reference, o.Softmax)
		}
	}
	if !rep.Pass {
		t.Errorf("an old softmax file fails: %+v", rep.Outputs)
	}
}

// TestFloat16Error measures the float16 files' error against the float32
// reference (the interpreter rounds every operator's output to float16),
// over both fixture layouts, aux heads, preprocessing in the file and 8
// batches of 2; DefaultRTolFloat16 and DefaultATolFloat16 come from it.
// GNCONV_MEASURE=1 go test ./verify -run Float16Error -v prints the
// measurements.
func TestFloat16Error(t *testing.T) {
	type key struct{ net, pre, out string }
	worst := map[key]float64{}
	top1 := map[key][2]int{}
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		net := fixtureNet(t, name)
		for _, pre := range []string{"", "imagenet-nhwc"} {
			for _, sm := range []bool{false, true} {
				v := edgeVariant{pre: pre, softmax: sm, aux: true, float16: true}
				data := emitBytes(t, net, v.options(t, net))
				inputs := 2 // 8 for the measurement: GNCONV_MEASURE=1
				if os.Getenv("GNCONV_MEASURE") != "" {
					inputs = 8
				}
				rep, err := Run(data, net, Options{Inputs: inputs, Batch: 2, Seed: 7})
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range rep.Outputs {
					k := key{name, pre, o.Reference}
					if sm {
						k.out += " softmax (abs)"
						worst[k] = math.Max(worst[k], o.MaxAbs)
					} else {
						worst[k] = math.Max(worst[k], o.MaxAbs/o.maxRef)
					}
					c := top1[k]
					top1[k] = [2]int{c[0] + o.top1, c[1] + o.rows}
					if !o.Pass {
						t.Errorf("%s %v %s: max abs %.3g over its bound %.3g", name, v, o.Name, o.MaxAbs, o.Bound)
					}
				}
			}
		}
	}
	for k, e := range worst {
		t.Logf("%-20s %-14s %-22s error %.3g  top-1 %d/%d", k.net, k.pre, k.out, e, top1[k][0], top1[k][1])
	}
}

// TestPreprocessFileWithImages: images given to a file that takes pixels
// are handed over as the prepared image's pixels, and the file passes.
func TestPreprocessFileWithImages(t *testing.T) {
	net := fixtureNet(t, "tutorial_aux.pth")
	img := image.NewRGBA(image.Rect(0, 0, 300, 260))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7919 % 251)
	}
	p := filepath.Join(t.TempDir(), "a.png")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, pre := range []string{"imagenet-nhwc", "tutorial-nchw"} {
		v := edgeVariant{pre: pre, float16: pre == "tutorial-nchw"}
		rep, err := Run(emitBytes(t, net, v.options(t, net)), net, Options{Inputs: -1, Images: []string{p}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Batches != 1 || !rep.Pass {
			t.Errorf("%v: %d batches, pass %v: %+v", v, rep.Batches, rep.Pass, rep.Outputs)
		}
	}
}
