package interop

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/tensor"
	st "github.com/nlpodyssey/safetensors"
	"google.golang.org/protobuf/proto"
)

// The other side of these tests is github.com/nlpodyssey/safetensors, a
// Go port of the format's reference implementation (the Rust crate the
// Python package wraps), by gopickle's authors: its reader validates a
// file by the reference's rules, its writer orders the data as the
// reference does. Neither Debian nor npm has the reference itself
// (docs/design.md).

// stDType is the reference's dtype of each of ours.
var stDType = map[tensor.DType]st.DType{
	tensor.Bool: st.BOOL, tensor.Uint8: st.U8, tensor.Int8: st.I8, tensor.Int16: st.I16,
	tensor.Float16: st.F16, tensor.BFloat16: st.BF16, tensor.Int32: st.I32, tensor.Float32: st.F32,
	tensor.Float64: st.F64, tensor.Int64: st.I64,
}

// stView is a tensor as the reference's writer takes it. (Its own
// NewTensorView refuses a 0-dim tensor: it counts no elements in an
// empty shape.)
type stView struct {
	dt    st.DType
	shape []uint64
	data  []byte
}

func (v stView) DType() st.DType { return v.dt }
func (v stView) Shape() []uint64 { return v.shape }
func (v stView) Data() []byte    { return v.data }
func (v stView) DataLen() uint64 { return uint64(len(v.data)) }
func u64s(s []int) []uint64 {
	out := make([]uint64, len(s))
	for i, d := range s {
		out[i] = uint64(d)
	}
	return out
}

// stStateDicts are what both sides write: every dtype (0-dim, empty and
// oddly named tensors among them) and the torchvision fixture.
func stStateDicts(t *testing.T) map[string]*tensor.StateDict {
	rng := rand.New(rand.NewSource(3))
	sd := tensor.NewStateDict()
	for i, dt := range []tensor.DType{tensor.Float16, tensor.Float32, tensor.Int64, tensor.BFloat16, tensor.Float64,
		tensor.Int32, tensor.Int16, tensor.Int8, tensor.Uint8, tensor.Bool} {
		for j, shape := range [][]int{{3, 5}, {}, {0, 4}, {7}} {
			n := 1
			for _, d := range shape {
				n *= d
			}
			raw := make([]byte, n*dt.Size())
			rng.Read(raw)
			if dt == tensor.Bool {
				for k := range raw {
					raw[k] &= 1
				}
			}
			name := []string{"layer", "ℓ\u00e9\"q\\", "tab\there\x01", "z</script>&"}[j] + "." + dt.String() + "." + string(rune('a'+i))
			sd.Set(name, &tensor.Tensor{DType: dt, Shape: shape, Raw: raw})
		}
	}
	ck, err := convert.ReadCheckpoint(filepath.Join(fixture.Dir(), "torchvision_aux.pth"))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*tensor.StateDict{"every dtype": sd, "torchvision_aux": ck.StateDict}
}

// headerJSON is a file's header as plain JSON values.
func headerJSON(t *testing.T, b []byte) map[string]any {
	n := binary.LittleEndian.Uint64(b)
	var v map[string]any
	if err := json.Unmarshal(b[8:8+n], &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSafetensorsOursReadByReference: what WriteSafetensors writes, the
// reference reads (its validation passed), with every tensor's name,
// dtype, shape and bytes, and the metadata, as written. The reference's
// writer, given the same tensors, writes the same data section byte for
// byte and a header that is the same JSON value.
func TestSafetensorsOursReadByReference(t *testing.T) {
	meta := map[string]string{"format": "pt", "note": "a\nb\u2028"}
	for what, sd := range stStateDicts(t) {
		var ours bytes.Buffer
		if err := convert.WriteSafetensors(&ours, sd, meta); err != nil {
			t.Fatal(err)
		}
		ref, err := st.Deserialize(ours.Bytes())
		if err != nil {
			t.Fatalf("%s: the reference does not read our file: %v", what, err)
		}
		if ref.Len() != sd.Len() {
			t.Fatalf("%s: %d tensors, %d written", what, ref.Len(), sd.Len())
		}
		for _, name := range sd.Names {
			want := sd.Tensors[name]
			got, ok := ref.Tensor(name)
			if !ok {
				t.Fatalf("%s: the reference finds no %q", what, name)
			}
			if got.DType() != stDType[want.DType] || !slices.Equal(got.Shape(), u64s(want.Shape)) || !bytes.Equal(got.Data(), want.Raw) {
				t.Errorf("%s: %q reads as %s %v (%d bytes)", what, name, got.DType(), got.Shape(), len(got.Data()))
			}
		}
		_, m, _ := st.ReadMetadata(ours.Bytes())
		if gm := m.Metadata(); len(gm) != len(meta) || gm["note"] != meta["note"] || gm["format"] != "pt" {
			t.Errorf("%s: metadata %q", what, gm)
		}

		views := map[string]stView{}
		for _, name := range sd.Names {
			tt := sd.Tensors[name]
			views[name] = stView{stDType[tt.DType], u64s(tt.Shape), tt.Raw}
		}
		theirs, err := st.Serialize(views, meta)
		if err != nil {
			t.Fatal(err)
		}
		on, tn := binary.LittleEndian.Uint64(ours.Bytes()), binary.LittleEndian.Uint64(theirs)
		if !bytes.Equal(ours.Bytes()[8+on:], theirs[8+tn:]) {
			t.Errorf("%s: the data sections differ", what)
		}
		oh, th := headerJSON(t, ours.Bytes()), headerJSON(t, theirs)
		ob, _ := json.Marshal(oh)
		tb, _ := json.Marshal(th)
		if !bytes.Equal(ob, tb) {
			t.Errorf("%s: the headers are different JSON values", what)
		}
	}
}

// TestSafetensorsReferenceReadByOurs: what the reference writes, gnconv
// reads, each tensor bit for bit, the metadata as written; and the
// torchvision fixture written by the reference binds and emits the same
// ONNX graph as the .pth it came from.
func TestSafetensorsReferenceReadByOurs(t *testing.T) {
	meta := map[string]string{"format": "pt", "epoch": "30"}
	for what, sd := range stStateDicts(t) {
		views := map[string]stView{}
		for _, name := range sd.Names {
			tt := sd.Tensors[name]
			views[name] = stView{stDType[tt.DType], u64s(tt.Shape), tt.Raw}
		}
		file, err := st.Serialize(views, meta)
		if err != nil {
			t.Fatal(err)
		}
		ck, err := convert.ReadCheckpointBytes(file)
		if err != nil {
			t.Fatalf("%s: gnconv does not read the reference's file: %v", what, err)
		}
		if ck.Format != "safetensors" || ck.StateDict.Len() != sd.Len() || len(ck.Metadata) != 2 || ck.Metadata["epoch"] != "30" {
			t.Fatalf("%s: %s, %d tensors, metadata %q", what, ck.Format, ck.StateDict.Len(), ck.Metadata)
		}
		for _, name := range sd.Names {
			got, want := ck.StateDict.Tensors[name], sd.Tensors[name]
			if got == nil || got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) || !bytes.Equal(got.Raw, want.Raw) {
				t.Errorf("%s: %q differs", what, name)
			}
		}
		// and back: our file of what we read is the reference's data
		var again bytes.Buffer
		if err := convert.WriteSafetensors(&again, ck.StateDict, ck.Metadata); err != nil {
			t.Fatal(err)
		}
		n, m := binary.LittleEndian.Uint64(file), binary.LittleEndian.Uint64(again.Bytes())
		if !bytes.Equal(file[8+n:], again.Bytes()[8+m:]) {
			t.Errorf("%s: rewritten, the data section differs", what)
		}
		if what != "torchvision_aux" {
			continue
		}
		pth, err := convert.ReadCheckpoint(filepath.Join(fixture.Dir(), "torchvision_aux.pth"))
		if err != nil {
			t.Fatal(err)
		}
		a, b := emitted(t, pth), emitted(t, ck)
		if !proto.Equal(a, b) {
			t.Error("the ONNX of the reference's safetensors file differs from the .pth's")
		}
	}
}

// emitted is the ONNX model of a checkpoint bound to its preset, aux
// heads kept.
func emitted(t *testing.T, ck *convert.Checkpoint) *onnxpb.ModelProto {
	t.Helper()
	net, _, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o, err := convert.EmitONNX(net, convert.ONNXOptions{Aux: true})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := o.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b.Bytes(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPrunedSafetensorsLoadsInPyTorch writes the deploy state dict of
// both fixtures as safetensors and has PyTorch read it (by the format's
// rules, Debian's torch having no safetensors module): the tensors are
// the original's bit for bit, and the aux_logits=False network loads
// them with strict=True and computes the training network's logits.
func TestPrunedSafetensorsLoadsInPyTorch(t *testing.T) {
	requirePython(t, "torch", "torchvision")
	m, err := fixture.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		fx := m.Models[name]
		src := filepath.Join(fixture.Dir(), name)
		ck, err := convert.ReadCheckpoint(src)
		if err != nil {
			t.Fatal(err)
		}
		_, rep, err := graph.Load(ck.StateDict, graph.Options{})
		if err != nil {
			t.Fatal(err)
		}
		kept, _ := graph.StripAux(ck.StateDict, graph.AuxEntries(ck.StateDict, rep))
		var b bytes.Buffer
		if err := convert.WriteSafetensors(&b, kept, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "deploy.safetensors")
		if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		var res struct {
			OK       bool              `json:"ok"`
			Keys     int               `json:"keys"`
			DTypes   []string          `json:"dtypes"`
			Metadata map[string]string `json:"metadata"`
		}
		pythonJSON(t, &res, "safetensors_torch_check.py", src, out, fx.Layout, strconv.Itoa(fx.Classes))
		if !res.OK || res.Keys != kept.Len() || !slices.Contains(res.DTypes, "torch.float16") || res.Metadata["format"] != "pt" {
			t.Errorf("%s: %+v", name, res)
		}
	}
}
