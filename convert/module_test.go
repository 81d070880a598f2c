package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gnconv/gnconv/tensor"
)

// wholeExpect is fixtures/models/expect.json, written by
// fixtures/make_whole_models.py from what torch says.
type wholeExpect struct {
	Files map[string]struct {
		Wrapper string   `json:"wrapper"`
		Prefix  string   `json:"prefix"`
		Keys    []string `json:"keys"`
		Model   bool     `json:"model"`
		Modules []struct {
			Path  string                 `json:"path"`
			Class string                 `json:"class"`
			Attrs map[string]interface{} `json:"attrs"`
		} `json:"modules"`
	} `json:"files"`
	Namespace map[string]interface{} `json:"namespace"`
	BestAcc   float64                `json:"best_acc"`
}

func loadWholeExpect(t *testing.T) wholeExpect {
	t.Helper()
	b, err := os.ReadFile("../fixtures/models/expect.json")
	if err != nil {
		t.Fatal(err)
	}
	var e wholeExpect
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Files) < 5 {
		t.Fatalf("expect.json lists %d files", len(e.Files))
	}
	return e
}

// sameJSON compares a plain value with what Python's json wrote.
func sameJSON(got, want interface{}) bool {
	switch w := want.(type) {
	case float64:
		switch g := got.(type) {
		case int:
			return float64(g) == w
		case float64:
			return g == w
		}
		return false
	case bool, string, nil:
		return got == want
	case []interface{}:
		var items []interface{}
		switch g := got.(type) {
		case Tuple:
			items = g
		case []interface{}:
			items = g
		default:
			return false
		}
		if len(items) != len(w) {
			return false
		}
		for i := range w {
			if !sameJSON(items[i], w[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func sameTensor(a, b *tensor.Tensor) bool {
	return a.DType == b.DType && tensor.ShapeString(a.Shape) == tensor.ShapeString(b.Shape) && bytes.Equal(a.Raw, b.Raw)
}

// TestWholeModelsMatchTorch reads torch.save(model) files (zip, legacy,
// protocol 4, DataParallel, a training dict) and checks the module tree
// against torch's named_modules() and the derived state dict against
// torch's state_dict(), keys in order and values bit for bit.
func TestWholeModelsMatchTorch(t *testing.T) {
	e := loadWholeExpect(t)
	ref, err := ReadCheckpoint("../fixtures/models/net.state_dict.pth")
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range e.Files {
		t.Run(file, func(t *testing.T) {
			ck, err := ReadCheckpoint(filepath.Join("../fixtures/models", file))
			if err != nil {
				t.Fatal(err)
			}
			if ck.WrapperKey != want.Wrapper || ck.Prefix != want.Prefix {
				t.Errorf("wrapper %q prefix %q, want %q %q", ck.WrapperKey, ck.Prefix, want.Wrapper, want.Prefix)
			}
			if len(ck.StateDict.Names) != len(want.Keys) {
				t.Fatalf("keys %q, want %q", ck.StateDict.Names, want.Keys)
			}
			for i, k := range want.Keys {
				if ck.StateDict.Names[i] != k {
					t.Fatalf("key %d is %q, want %q (state_dict order)", i, ck.StateDict.Names[i], k)
				}
				if !sameTensor(ck.StateDict.Tensors[k], ref.StateDict.Tensors[k]) {
					t.Errorf("%s differs from torch's state_dict()", k)
				}
			}
			if !want.Model {
				if ck.Model != nil || ck.Net() != nil {
					t.Fatal("a model where there is none")
				}
				return
			}
			if ck.Model == nil {
				t.Fatal("no model")
			}
			if net := ck.Net(); net == nil || net.Class != "__main__.Net" {
				t.Errorf("Net() is %+v", net)
			}
			var got []*Module
			ck.Model.Walk(func(m *Module) error { got = append(got, m); return nil })
			if len(got) != len(want.Modules) {
				t.Fatalf("%d modules, want %d", len(got), len(want.Modules))
			}
			for i, wm := range want.Modules {
				m := got[i]
				if m.Path != wm.Path || m.Class != wm.Class {
					t.Errorf("module %d is %q %s, want %q %s", i, m.Path, m.Class, wm.Path, wm.Class)
				}
				for a, wv := range wm.Attrs {
					gv, ok := m.Attr(a)
					if !ok || !sameJSON(gv, wv) {
						t.Errorf("%s.%s = %#v, want %#v", m.Path, a, gv, wv)
					}
				}
				for _, hidden := range []string{"_parameters", "_buffers", "_modules", "_forward_hooks", "_is_full_backward_hook"} {
					if _, ok := m.Attr(hidden); ok {
						t.Errorf("%s: attribute %s kept", m.Path, hidden)
					}
				}
			}
		})
	}
}

// TestWholeModelTree checks the tree's typed accessors, None entries and
// non-persistent buffers on the user model.
func TestWholeModelTree(t *testing.T) {
	for _, file := range []string{"net_zip.pth", "net_legacy.pth", "net_p4.pth"} {
		t.Run(file, func(t *testing.T) {
			ck, err := ReadCheckpoint(filepath.Join("../fixtures/models", file))
			if err != nil {
				t.Fatal(err)
			}
			m := ck.Model
			if m.Class != "__main__.Net" || m.ShortClass() != "Net" || m.Path != "" {
				t.Fatalf("root %q %q", m.Class, m.Path)
			}
			if ti, err := m.Bool("transform_input"); err != nil || !ti {
				t.Errorf("transform_input %v %v", ti, err)
			}
			if len(m.NoneParams) != 1 || m.NoneParams[0] != "unused" {
				t.Errorf("None parameters %q", m.NoneParams)
			}
			if m.Buffers.Len() != 1 || m.Buffers.Names[0] != "scale" || m.NonPersistent.Len() != 1 || m.NonPersistent.Names[0] != "anchors" {
				t.Errorf("buffers %q, non-persistent %q", m.Buffers.Names, m.NonPersistent.Names)
			}
			if got := m.NonPersistent.Tensors["anchors"].Float32(); len(got) != 3 || got[2] != 2 {
				t.Errorf("anchors %v", got)
			}
			if m.Child("aux") != nil || len(m.Names) != len(m.Children) {
				t.Error("the None child aux is listed")
			}
			if _, ok := m.Attr("_non_persistent_buffers_set"); !ok {
				t.Error("_non_persistent_buffers_set missing from the attributes")
			}

			conv := m.Find("branch.conv")
			if conv == nil || conv.ShortClass() != "Conv2d" {
				t.Fatal("branch.conv")
			}
			if k, err := conv.Ints("kernel_size"); err != nil || k != [2]int{1, 3} {
				t.Errorf("kernel_size %v %v", k, err)
			}
			if p, err := conv.Ints("padding"); err != nil || p != [2]int{0, 1} {
				t.Errorf("padding %v %v", p, err)
			}
			if s, err := conv.String("padding_mode"); err != nil || s != "zeros" {
				t.Errorf("padding_mode %q %v", s, err)
			}
			if conv.Params.Len() != 2 || conv.Params.Names[0] != "weight" {
				t.Errorf("conv params %q", conv.Params.Names)
			}
			pool := m.Find("features.3")
			if k, err := pool.Ints("kernel_size"); err != nil || k != [2]int{3, 3} {
				t.Errorf("maxpool kernel_size %v %v", k, err)
			}
			if c, err := pool.Bool("ceil_mode"); err != nil || !c {
				t.Errorf("ceil_mode %v %v", c, err)
			}
			if c, err := m.Find("branch.pool").Bool("count_include_pad"); err != nil || c {
				t.Errorf("count_include_pad %v %v", c, err)
			}
			if eps, err := m.Find("features.1").Float("eps"); err != nil || eps != 0.001 {
				t.Errorf("eps %v %v", eps, err)
			}
			if k, err := m.Find("lrn").Float("k"); err != nil || k != 1 {
				t.Errorf("lrn k (an int) %v %v", k, err)
			}
			if n, err := m.Find("lrn").Int("size"); err != nil || n != 5 {
				t.Errorf("lrn size %v %v", n, err)
			}
			if o, err := m.Find("avgpool").Ints("output_size"); err != nil || o != [2]int{1, 1} {
				t.Errorf("output_size %v %v", o, err)
			}
			// clear errors for a wrong type and a missing attribute
			_, err = conv.Int("kernel_size")
			var ae *AttrError
			if !errors.As(err, &ae) || ae.Path != "branch.conv" || ae.Attr != "kernel_size" {
				t.Errorf("Int of a tuple: %v", err)
			}
			if _, err := conv.Float("nope"); err == nil || err.Error() != "module branch.conv (torch.nn.modules.conv.Conv2d): attribute nope is missing" {
				t.Errorf("missing attribute: %v", err)
			}
			if _, err := m.Find("dropout").Bool("p"); err == nil {
				t.Error("Bool of a float")
			}
		})
	}
}

// TestTrainingDictsWithRecords: argparse.Namespace and numpy scalars are
// read as records beside the model or the state dict, and cannot be
// written back.
func TestTrainingDictsWithRecords(t *testing.T) {
	e := loadWholeExpect(t)
	for _, file := range []string{"train_model.pth", "train_state_dict.pth"} {
		t.Run(file, func(t *testing.T) {
			ck, err := ReadCheckpoint(filepath.Join("../fixtures/models", file))
			if err != nil {
				t.Fatal(err)
			}
			root := ck.Root.(*Dict)
			args, _ := root.Get("args")
			ns, ok := args.(*Object)
			if !ok || ns.Class != "argparse.Namespace" {
				t.Fatalf("args is %#v", args)
			}
			st, ok := ns.State.(*Dict)
			if !ok {
				t.Fatalf("Namespace state %#v", ns.State)
			}
			for k, want := range e.Namespace {
				if got, _ := st.Get(k); !sameJSON(got, want) {
					t.Errorf("args.%s = %#v, want %v", k, got, want)
				}
			}
			acc, _ := root.Get("best_acc")
			sc, ok := acc.(*Object)
			if !ok || sc.Class != "numpy.core.multiarray.scalar" || len(sc.Args) != 2 {
				t.Fatalf("best_acc is %#v", acc)
			}
			if dt, ok := sc.Args[0].(*Object); !ok || dt.Class != "numpy.dtype" || !sameJSON(dt.Args[0], "f8") {
				t.Errorf("best_acc's dtype %#v", sc.Args[0])
			}
			if b, ok := sc.Args[1].([]byte); !ok || len(b) != 8 {
				t.Errorf("best_acc's bytes %#v", sc.Args[1])
			}
			if epoch, _ := root.Get("epoch"); epoch != 3 {
				t.Errorf("epoch %v", epoch)
			}
			err = WriteObject(&bytes.Buffer{}, root, false)
			if !errors.Is(err, ErrNotPlain) {
				t.Errorf("WriteObject of a dict holding records: %v", err)
			}
			if err := WriteObject(&bytes.Buffer{}, ns, false); !errors.Is(err, ErrNotPlain) {
				t.Errorf("WriteObject of a record: %v", err)
			}
		})
	}
}

// TestFullModuleFixtureReads: fixtures/bad/full_module.pth, a pickled
// nn.Module that was once refused, is read as a model.
func TestFullModuleFixtureReads(t *testing.T) {
	ck, err := ReadCheckpoint("../fixtures/bad/full_module.pth")
	if err != nil {
		t.Fatal(err)
	}
	if ck.Model == nil || ck.Model.Class != "__main__.Small" {
		t.Fatalf("model %+v", ck.Model)
	}
	want := []string{"conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked", "fc.weight", "fc.bias"}
	if len(ck.StateDict.Names) != len(want) {
		t.Fatalf("keys %q", ck.StateDict.Names)
	}
	for i, k := range want {
		if ck.StateDict.Names[i] != k {
			t.Fatalf("keys %q, want %q", ck.StateDict.Names, want)
		}
	}
	if c := ck.Model.Find("conv").Class; c != "torch.nn.modules.conv.Conv2d" {
		t.Errorf("conv is %s", c)
	}
}
