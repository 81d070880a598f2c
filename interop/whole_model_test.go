package interop

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/tensor"
)

// TestWholeGoogLeNetPickles has torch save torchvision's GoogLeNet itself
// (torch.save(model), with and without aux heads, zip and legacy) and reads
// the files without running any of them: the module tree must carry the
// root's transform_input and aux_logits, and the derived state dict must
// be torch's state_dict(): keys in order, dtypes, shapes and every byte
// (SHA-256 per tensor, computed by Python).
func TestWholeGoogLeNetPickles(t *testing.T) {
	requirePython(t, "torch", "torchvision")
	dir := t.TempDir()
	var files map[string]struct {
		Class          string `json:"class"`
		TransformInput bool   `json:"transform_input"`
		AuxLogits      bool   `json:"aux_logits"`
		StateDict      []struct {
			Key    string `json:"key"`
			DType  string `json:"dtype"`
			Shape  []int  `json:"shape"`
			SHA256 string `json:"sha256"`
		} `json:"state_dict"`
	}
	pythonJSON(t, &files, "whole_model.py", dir)
	if len(files) != 3 {
		t.Fatalf("%d files", len(files))
	}
	for name, want := range files {
		t.Run(name, func(t *testing.T) {
			ck, err := convert.ReadCheckpoint(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			m := ck.Model
			if m == nil || m.Class != want.Class || m.Class != "torchvision.models.googlenet.GoogLeNet" {
				t.Fatalf("model %+v", m)
			}
			if ti, err := m.Bool("transform_input"); err != nil || ti != want.TransformInput {
				t.Errorf("transform_input %v (%v), want %v", ti, err, want.TransformInput)
			}
			if aux, err := m.Bool("aux_logits"); err != nil || aux != want.AuxLogits {
				t.Errorf("aux_logits %v (%v), want %v", aux, err, want.AuxLogits)
			}
			if (m.Child("aux1") != nil) != want.AuxLogits {
				t.Errorf("aux1 child present: %v", m.Child("aux1") != nil)
			}
			if k, err := m.Find("inception3a.branch3.1.conv").Ints("kernel_size"); err != nil || k != [2]int{3, 3} {
				t.Errorf("branch3's conv kernel %v %v (torchvision's is 3x3)", k, err)
			}
			if c, err := m.Find("maxpool1").Bool("ceil_mode"); err != nil || !c {
				t.Errorf("maxpool1 ceil_mode %v %v", c, err)
			}
			if eps, err := m.Find("conv1.bn").Float("eps"); err != nil || eps != 0.001 {
				t.Errorf("conv1.bn eps %v %v", eps, err)
			}
			sd := ck.StateDict
			if ck.Prefix != "" || ck.WrapperKey != "" || sd.Len() != len(want.StateDict) {
				t.Fatalf("prefix %q wrapper %q, %d keys, want %d", ck.Prefix, ck.WrapperKey, sd.Len(), len(want.StateDict))
			}
			for i, w := range want.StateDict {
				if sd.Names[i] != w.Key {
					t.Fatalf("key %d is %q, want %q", i, sd.Names[i], w.Key)
				}
				tt := sd.Tensors[w.Key]
				if tt.DType.String() != w.DType || tensor.ShapeString(tt.Shape) != tensor.ShapeString(w.Shape) {
					t.Errorf("%s: %s %v, want %s %v", w.Key, tt.DType, tt.Shape, w.DType, w.Shape)
					continue
				}
				sum := sha256.Sum256(tt.Raw)
				if hex.EncodeToString(sum[:]) != w.SHA256 {
					t.Errorf("%s: values differ from torch's", w.Key)
				}
			}
		})
	}
}
