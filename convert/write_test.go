package convert

import (
	"archive/zip"
	"bytes"
	"math/big"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/tensor"
	"google.golang.org/protobuf/proto"
)

func sameTensors(t *testing.T, what string, got, want *tensor.StateDict) {
	t.Helper()
	if !reflect.DeepEqual(got.Names, want.Names) {
		t.Fatalf("%s: names %v, want %v", what, got.Names, want.Names)
	}
	for _, n := range want.Names {
		g, w := got.Tensors[n], want.Tensors[n]
		if g.DType != w.DType || !reflect.DeepEqual(g.Shape, w.Shape) || !bytes.Equal(g.Raw, w.Raw) {
			t.Fatalf("%s: %s is %s %v, want %s %v (or its bytes differ)", what, n, g.DType, g.Shape, w.DType, w.Shape)
		}
	}
}

// TestWriteRoundTrip writes every fixture's state dict and reads it back:
// names, order, dtypes, shapes and bytes survive.
func TestWriteRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../fixtures/readers/*.pth")
	files = append(files, "../fixtures/tutorial_aux.pth", "../fixtures/torchvision_aux.pth")
	if len(files) < 10 {
		t.Fatalf("only %d fixtures", len(files))
	}
	for _, f := range files {
		ck, err := ReadCheckpoint(f)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteCheckpoint(&buf, ck.StateDict); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		back, err := ReadCheckpointBytes(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: reading back: %v", f, err)
		}
		if back.WrapperKey != "" || back.Prefix != "" || back.Format != "zip" {
			t.Fatalf("%s: wrote a wrapped or prefixed file", f)
		}
		sameTensors(t, f, back.StateDict, ck.StateDict)
	}
}

// TestWrittenRecordsAreAligned checks torch 2.x's layout: stored (not
// deflated) records, storage data at 64-byte offsets, the records torch
// expects.
func TestWrittenRecordsAreAligned(t *testing.T) {
	ck, err := ReadCheckpoint("../fixtures/readers/dtypes_zip_p4.pth")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCheckpoint(&buf, ck.StateDict); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
		if f.Method != zip.Store {
			t.Errorf("%s is compressed", f.Name)
		}
		if strings.HasPrefix(f.Name, "archive/data/") {
			off, err := f.DataOffset()
			if err != nil || off%storageAlignment != 0 {
				t.Errorf("%s: data at %d", f.Name, off)
			}
		}
	}
	for _, want := range []string{"archive/data.pkl", "archive/version", "archive/byteorder", "archive/data/0", "archive/data/9"} {
		if !names[want] {
			t.Errorf("no record %s", want)
		}
	}
}

// TestWriteObjectPlainData writes a training dict with every kind of plain
// value and reads it back.
func TestWriteObjectPlainData(t *testing.T) {
	ck, err := ReadCheckpoint("../fixtures/readers/wrapped_model_state_dict.pth")
	if err != nil {
		t.Fatal(err)
	}
	huge, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	root := &Dict{
		Keys:   []interface{}{"epoch", "loss", "name", "flags", "shape", "big", "neg", "none", "raw", "model_state_dict", "optimizer_state_dict"},
		Values: []interface{}{7, 0.125, "googlenet", []interface{}{true, false}, Tuple{1, 2}, huge, -5, nil, []byte{0, 255}, nil, nil},
	}
	orig := ck.Root.(*Dict)
	v, _ := orig.Get("model_state_dict")
	root.Values[9] = v
	v, _ = orig.Get("optimizer_state_dict")
	root.Values[10] = v
	var buf bytes.Buffer
	if err := WriteObject(&buf, root, false); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCheckpointBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if back.WrapperKey != "model_state_dict" {
		t.Fatalf("wrapper %q", back.WrapperKey)
	}
	sameTensors(t, "wrapped", back.StateDict, ck.StateDict)
	got := back.Root.(*Dict)
	for i, k := range root.Keys[:9] {
		g, _ := got.Get(k.(string))
		if !reflect.DeepEqual(g, root.Values[i]) {
			t.Errorf("%s: %#v, want %#v", k, g, root.Values[i])
		}
	}
	if err := WriteObject(&bytes.Buffer{}, &Dict{Keys: []interface{}{"s"}, Values: []interface{}{Opaque{Type: "set"}}}, false); err == nil {
		t.Fatal("an opaque value must be refused")
	}
}

// TestONNXWriteToEqualsMarshal: the streamed file decodes to the same model.
func TestONNXWriteToEqualsMarshal(t *testing.T) {
	ck, err := ReadCheckpoint("../fixtures/tutorial_aux.pth")
	if err != nil {
		t.Fatal(err)
	}
	net, _, err := graph.Load(ck.StateDict, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := EmitONNX(net, ONNXOptions{Aux: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("wrote %d of %d: %v", n, buf.Len(), err)
	}
	back := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(buf.Bytes(), back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(back, m.Model) {
		t.Fatal("the streamed model differs from the emitted one")
	}
}
