package filekind

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

func zipOf(t *testing.T, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := z.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("\x80\x02}q\x00."))
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func onnxBytes(t *testing.T, withGraph bool) []byte {
	t.Helper()
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(8),
		ProducerName:    proto.String("pytorch"),
		ProducerVersion: proto.String("2.1.0"),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}},
	}
	if withGraph {
		m.Graph = &onnxpb.GraphProto{Name: proto.String("main_graph"),
			Initializer: []*onnxpb.TensorProto{{Name: proto.String("w"), Dims: []int64{1 << 12}, RawData: make([]byte, 1<<14)}}}
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func safetensorsFile(header string, data int) []byte {
	b := make([]byte, 8, 8+len(header)+data)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

func TestKinds(t *testing.T) {
	random := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(random)
	random[0] = 0xff // not a protobuf tag of ModelProto's
	hdf5 := append([]byte("\x89HDF\r\n\x1a\n"), make([]byte, 600)...)
	userblock := append(make([]byte, 512), hdf5...)
	for _, c := range []struct {
		name, kind, says string
		data             []byte
	}{
		{"onnx", "onnx", "an ONNX model (ir_version 8, from pytorch 2.1.0)", onnxBytes(t, true)},
		{"onnx-header-only", "onnx", "an ONNX model", onnxBytes(t, false)},
		{"safetensors", "safetensors", "a safetensors file (2 tensors)",
			safetensorsFile(`{"__metadata__":{"format":"pt"},"fc.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}`, 24)},
		{"torchscript", "torchscript", "a TorchScript archive", zipOf(t, "model/data.pkl", "model/code/__torch__/m.py", "model/constants.pkl", "model/version")},
		{"torchscript-constants", "torchscript", "TorchScript", zipOf(t, "m/constants.pkl")},
		{"torch-zip", "torch-zip", "torch.save's zip format", zipOf(t, "archive/data.pkl", "archive/version")},
		{"zip", "zip", "a zip archive of 2 entries", zipOf(t, "a.txt", "b/c.bin")},
		{"hdf5", "hdf5", "an HDF5 file", hdf5},
		{"hdf5-userblock", "hdf5", "HDF5", userblock},
		{"npy", "npy", "NumPy", append([]byte("\x93NUMPY\x01\x00"), make([]byte, 100)...)},
		{"gzip", "gzip", "gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}},
		{"pickle", "pickle", "protocol 2", []byte("\x80\x02}q\x00.")},
		{"text", "text", "a text file", []byte("epoch 12: loss 0.31\nepoch 13: loss 0.29\n")},
		{"json", "text", "JSON", []byte(`  {"model": "googlenet"}`)},
		{"empty", "empty", "an empty file", nil},
		{"random", "", "", random},
		{"bad-safetensors", "", "", safetensorsFile(`{"a":`, 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), c.name)
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			k, err := File(p)
			if err != nil {
				t.Fatal(err)
			}
			if k.Name != c.kind || !strings.Contains(k.Description, c.says) {
				t.Fatalf("%+v, want %s saying %q", k, c.kind, c.says)
			}
			if k.Known() != (c.kind != "") {
				t.Fatal("Known disagrees")
			}
			if b := Bytes(c.data); b != k {
				t.Fatalf("Bytes says %+v, File %+v", b, k)
			}
		})
	}
}

func TestNonRegularNotOpened(t *testing.T) {
	if _, err := File(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("a directory: %v", err)
	}
	if _, err := File("/dev/null"); err == nil {
		t.Fatal("/dev/null was sniffed")
	}
}
