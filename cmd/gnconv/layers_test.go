package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// alterONNX adds delta to one value of one initializer of an ONNX file.
func alterONNX(t *testing.T, path, init string, index int, delta float32) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pm := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, pm); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range pm.Graph.Initializer {
		if x.GetName() == init {
			v := math.Float32frombits(binary.LittleEndian.Uint32(x.RawData[4*index:]))
			binary.LittleEndian.PutUint32(x.RawData[4*index:], math.Float32bits(v+delta))
			found = true
		}
	}
	if !found {
		t.Fatalf("no initializer %s", init)
	}
	if data, err = proto.Marshal(pm); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyLayers: --layers prints every module in network order and
// passes an unaltered file; a file with one weight of one branch changed
// fails, and the message names that branch's conv block as the first
// divergence with or without --layers; --json carries the comparison.
func TestVerifyLayers(t *testing.T) {
	dir := t.TempDir()
	onnx := filepath.Join(dir, "tv.onnx")
	if code, _, errs := gnconv(t, "import", fx("torchvision_aux.pth"), "-o", onnx); code != 0 {
		t.Fatalf("import: %s", errs)
	}
	code, out, errs := gnconv(t, "verify", onnx, "--weights", fx("torchvision_aux.pth"), "--layers")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	for _, want := range []string{"MODULE", "conv1 ", "inception4a.branch3.1 ", "maxpool4 ", "fc ", "every module compared is within its bound"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	if i, j := strings.Index(out, "inception4a.branch3.1 "), strings.Index(out, "inception4a "); i > j {
		t.Errorf("a branch after its unit:\n%s", out)
	}

	alterONNX(t, onnx, "inception4a.branch3.1.conv.weight", 40, 5)
	code, out, errs = gnconv(t, "verify", onnx, "--weights", fx("torchvision_aux.pth"))
	if code != exitMismatch || !strings.Contains(errs, "first divergence at inception4a.branch3.1 (max abs ") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if strings.Contains(out, "MODULE") {
		t.Errorf("the layer table without --layers:\n%s", out)
	}
	code, out, _ = gnconv(t, "verify", onnx, "--weights", fx("torchvision_aux.pth"), "--layers")
	if code != exitMismatch || !strings.Contains(out, "layers: first divergence at inception4a.branch3.1") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = gnconv(t, "verify", onnx, "--weights", fx("torchvision_aux.pth"), "--json")
	var rep struct {
		Pass   bool `json:"pass"`
		Layers struct {
			First   string `json:"first_divergence"`
			Modules []struct {
				Module string `json:"module"`
				Pass   bool   `json:"pass"`
			} `json:"modules"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != exitMismatch || rep.Pass || rep.Layers.First != "inception4a.branch3.1" || len(rep.Layers.Modules) < 60 {
		t.Fatalf("exit %d, %+v", code, rep)
	}
}
