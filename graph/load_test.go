package graph_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	. "github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
	"github.com/gnconv/gnconv/tensor"
)

// stateDict returns a copy of a fixture's state dict (tensors shared).
func stateDict(t *testing.T, name string) *tensor.StateDict {
	t.Helper()
	ck, err := fixture.Checkpoint(name)
	if err != nil {
		t.Fatal(err)
	}
	src := ck.StateDict
	out := tensor.NewStateDict()
	for _, k := range src.Names {
		out.Set(k, src.Tensors[k])
	}
	return out
}

func without(sd *tensor.StateDict, drop func(string) bool) *tensor.StateDict {
	out := tensor.NewStateDict()
	for _, k := range sd.Names {
		if !drop(k) {
			out.Set(k, sd.Tensors[k])
		}
	}
	return out
}

func loadErr(t *testing.T, err error) *LoadError {
	t.Helper()
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("want a *LoadError, got %v", err)
	}
	return le
}

// IsAuxKey tells the aux heads' entries of the fixtures.
func IsAuxKey(k string) bool { return strings.HasPrefix(k, "aux1.") || strings.HasPrefix(k, "aux2.") }

func TestDetectLayoutClassesAux(t *testing.T) {
	for _, c := range []struct {
		file    string
		layout  string
		classes int
		keys    [2]int // with and without aux
	}{{"tutorial_aux.pth", "tutorial", 10, [2]int{128, 116}}, {"torchvision_aux.pth", "torchvision", 7, [2]int{364, 344}}} {
		sd := stateDict(t, c.file)
		for i, aux := range []bool{true, false} {
			s := sd
			if !aux {
				s = without(sd, IsAuxKey)
			}
			if s.Len() != c.keys[i] {
				t.Fatalf("%s aux=%v: %d keys, want %d", c.file, aux, s.Len(), c.keys[i])
			}
			layout, _, evidence := Detect(s)
			if layout.String() != c.layout {
				t.Errorf("%s aux=%v: detected %s (%s)", c.file, aux, layout, evidence)
			}
			net, rep, err := Load(s, Options{})
			if err != nil {
				t.Fatalf("%s aux=%v: %v", c.file, aux, err)
			}
			if rep.Classes != c.classes || rep.AuxInFile != aux || rep.Layout.Name != c.layout {
				t.Errorf("%s aux=%v: %s, %d classes, aux in file %v", c.file, aux, rep.Layout, rep.Classes, rep.AuxInFile)
			}
			if net.HasAux() != aux || rep.Loaded+len(rep.Ignored) != s.Len() || len(net.Params()) != s.Len() {
				t.Errorf("%s aux=%v: aux %v, loaded %d+%d of %d, network has %d params", c.file, aux, net.HasAux(), rep.Loaded, len(rep.Ignored), s.Len(), len(net.Params()))
			}
		}
	}
}

func TestStrictFailsOnMissingKey(t *testing.T) {
	sd := without(stateDict(t, "tutorial_aux.pth"), func(k string) bool { return k == "inception4c.branch3.0.conv.bias" })
	_, _, err := Load(sd, Options{})
	le := loadErr(t, err)
	want := `Missing key(s) in state_dict: "inception4c.branch3.0.conv.bias". `
	if !strings.Contains(err.Error(), want) || len(le.Report.Missing) != 1 {
		t.Fatalf("error %q lacks %q", err, want)
	}
}

func TestStrictFailsOnUnexpectedKey(t *testing.T) {
	sd := stateDict(t, "tutorial_aux.pth")
	sd.Set("fc.weights", sd.Tensors["fc.weight"])
	_, _, err := Load(sd, Options{})
	if want := `Unexpected key(s) in state_dict: "fc.weights". `; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v lacks %q", err, want)
	}
}

func TestShapeMismatchFailsEvenNonStrict(t *testing.T) {
	sd := stateDict(t, "tutorial_aux.pth")
	for _, nonStrict := range []bool{false, true} {
		_, _, err := Load(sd, Options{Classes: 1000, NonStrict: nonStrict})
		le := loadErr(t, err)
		want := "size mismatch for fc.weight: copying a param with shape torch.Size([10, 1024]) from checkpoint, the shape in current model is torch.Size([1000, 1024])."
		if !strings.Contains(err.Error(), want) || !strings.Contains(le.Hint, "10 classes") {
			t.Fatalf("non-strict=%v: %v", nonStrict, err)
		}
		if strings.Contains(le.TorchMessage(), "Missing key") {
			t.Errorf("a shape mismatch is not a missing key: %v", err)
		}
	}
}

func TestNonStrictReportsAndLoads(t *testing.T) {
	sd := without(stateDict(t, "tutorial_aux.pth"), func(k string) bool { return k == "aux2.fc1.bias" })
	sd.Set("extra.weight", sd.Tensors["fc.bias"])
	if _, _, err := Load(sd, Options{NonStrict: true}); !errors.Is(err, ErrUnknownLayout) {
		t.Fatalf("names that are no preset's load non-strictly only onto a named layout: %v", err)
	}
	net, rep, err := Load(sd, Options{NonStrict: true, Layout: Preset("tutorial")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Missing, ",") != "aux2.fc1.bias" || strings.Join(rep.Unexpected, ",") != "extra.weight" {
		t.Fatalf("missing %v unexpected %v", rep.Missing, rep.Unexpected)
	}
	// The main path is whole, so the logits run; aux2 lacks a weight.
	x := make([]float32, 3*224*224)
	if _, err := net.Forward(x, 1, 224, 224, false); err == nil {
		t.Fatal("a network with a missing weight must refuse to run")
	} else if !strings.Contains(err.Error(), "aux2.fc1.bias") {
		t.Fatalf("error %v does not name the missing weight", err)
	}
	if _, err := net.WithoutAux().Forward(x, 1, 224, 224, false); err != nil {
		t.Fatalf("the deploy network has every weight: %v", err)
	}
}

func TestDeployNetworkLoadsTrainingCheckpointOnlyNonStrict(t *testing.T) {
	sd := stateDict(t, "torchvision_aux.pth")
	_, _, err := Load(sd, Options{Aux: AuxOff})
	le := loadErr(t, err)
	if len(le.Report.Unexpected) != 20 || !strings.Contains(le.Hint, "prune-aux") {
		t.Fatalf("%d unexpected, hint %q", len(le.Report.Unexpected), le.Hint)
	}
	net, rep, err := Load(sd, Options{Aux: AuxOff, NonStrict: true})
	if err != nil {
		t.Fatal(err)
	}
	if net.HasAux() || len(rep.Unexpected) != 20 || len(rep.Missing) != 0 {
		t.Fatalf("aux %v, unexpected %d, missing %d", net.HasAux(), len(rep.Unexpected), len(rep.Missing))
	}
}

func TestTrainingNetworkRefusesCheckpointWithoutAux(t *testing.T) {
	sd := without(stateDict(t, "torchvision_aux.pth"), IsAuxKey)
	_, _, err := Load(sd, Options{Aux: AuxOn})
	le := loadErr(t, err)
	if len(le.Report.Missing) != 18 { // 2 × (conv 5 + fc1 2 + fc2 2); num_batches_tracked may be absent
		t.Fatalf("%d missing: %v", len(le.Report.Missing), le.Report.Missing)
	}
	net, _, err := Load(sd, Options{Aux: AuxOn, NonStrict: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.Forward(make([]float32, 3*224*224), 1, 224, 224, true); err == nil {
		t.Fatal("aux heads without weights must not run")
	}
}

func TestNumBatchesTrackedIgnoredAndOptional(t *testing.T) {
	sd := stateDict(t, "torchvision_aux.pth")
	_, rep, err := Load(sd, Options{})
	if err != nil || len(rep.Ignored) != 59 {
		t.Fatalf("err %v, %d ignored", err, len(rep.Ignored))
	}
	old := without(sd, func(k string) bool { return strings.HasSuffix(k, "num_batches_tracked") })
	if _, rep, err := Load(old, Options{}); err != nil || len(rep.Missing) != 0 {
		t.Fatalf("a checkpoint without num_batches_tracked: %v %v", err, rep.Missing)
	}
}

func TestNonFiniteWeightsNamed(t *testing.T) {
	sd := stateDict(t, "tutorial_aux.pth")
	bad := append([]float32(nil), sd.Tensors["fc.bias"].Float32()...)
	bad[3] = float32(math.NaN())
	sd.Set("fc.bias", tensor.NewFloat32([]int{len(bad)}, bad))
	inf := append([]float32(nil), sd.Tensors["conv1.conv.bias"].Float32()...)
	inf[0] = float32(math.Inf(1))
	sd.Set("conv1.conv.bias", tensor.NewFloat32([]int{len(inf)}, inf))
	_, rep, err := Load(sd, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.NonFinite, ",") != "conv1.conv.bias,fc.bias" {
		t.Fatalf("non-finite %v", rep.NonFinite)
	}
}

func TestWrongLayoutSaysSoPlainly(t *testing.T) {
	_, _, err := Load(stateDict(t, "tutorial_aux.pth"), Options{Layout: Preset("torchvision")})
	le := loadErr(t, err)
	if !strings.Contains(le.Hint, "holds the tutorial layout") || !strings.Contains(le.Hint, "--layout tutorial") {
		t.Fatalf("hint %q", le.Hint)
	}
	if !strings.Contains(err.Error(), "size mismatch for inception3a.branch3.1.conv.weight: copying a param with shape torch.Size([32, 16, 5, 5])") {
		t.Fatalf("error %v", err)
	}
}

func TestIntegerWeightsRefused(t *testing.T) {
	sd := stateDict(t, "tutorial_aux.pth")
	sd.Set("fc.bias", &tensor.Tensor{DType: tensor.Int64, Shape: []int{10}, Raw: make([]byte, 80)})
	if _, _, err := Load(sd, Options{}); err == nil || !strings.Contains(err.Error(), "fc.bias has dtype int64") {
		t.Fatalf("got %v", err)
	}
}

func TestUnknownCheckpointNeedsLayout(t *testing.T) {
	sd := tensor.NewStateDict()
	sd.Set("encoder.weight", tensor.NewFloat32([]int{2}, []float32{1, 2}))
	if _, _, err := Load(sd, Options{}); err == nil || !strings.Contains(err.Error(), "--layout") {
		t.Fatalf("got %v", err)
	}
}

func TestInputSizes(t *testing.T) {
	tut, _, err := Load(stateDict(t, "tutorial_aux.pth"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tut.CheckInput(288, 288); err == nil || !strings.Contains(err.Error(), "aux head aux1") || !strings.Contains(err.Error(), "expects 2048 inputs, it gets 3200") {
		t.Fatalf("tutorial aux at 288x288: %v", err)
	}
	if err := tut.WithoutAux().CheckInput(256, 192); err != nil {
		t.Fatalf("tutorial without aux at 256x192: %v", err)
	}
	if err := tut.CheckInput(16, 16); err == nil {
		t.Fatal("a 16x16 input must be refused")
	}
	tv, _, err := Load(stateDict(t, "torchvision_aux.pth"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*160*200)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	outs, err := tv.Forward(x, 1, 160, 200, true)
	if err != nil {
		t.Fatalf("torchvision at 160x200: %v", err)
	}
	for _, o := range outs {
		if len(o.Data) != 7 {
			t.Fatalf("%s has %d values", o.Name, len(o.Data))
		}
	}
}

// TestForeignNamesBindByPosition: the same networks with their modules
// named otherwise (Sequential blocks, other unit and head names) are
// refused unless a layout is named; named, they bind by position, compute
// the same logits, and the report says what was assumed.
func TestForeignNamesBindByPosition(t *testing.T) {
	rename := strings.NewReplacer(".conv.", ".0.", ".bn.", ".1.", "inception", "block_", "aux1.", "aux_head_a.", "aux2.", "aux_head_b.", "fc.", "classifier.")
	x := make([]float32, 3*224*224)
	for i := range x {
		x[i] = float32(i%17)/8 - 1
	}
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		sd := stateDict(t, name)
		foreign := tensor.NewStateDict()
		for _, k := range sd.Names {
			foreign.Set(rename.Replace(k), sd.Tensors[k])
		}
		if _, _, err := Load(foreign, Options{}); !errors.Is(err, ErrUnknownLayout) || !strings.Contains(err.Error(), "ceil_mode") ||
			!strings.Contains(err.Error(), "shapes of the "+strings.TrimSuffix(name, "_aux.pth")+" layout's") {
			t.Fatalf("%s: foreign names without a layout: %v", name, err)
		}
		layout := Preset(strings.TrimSuffix(name, "_aux.pth"))
		net, rep, err := Load(foreign, Options{Layout: layout})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rep.Renamed == nil || !strings.Contains(rep.LayoutEvidence, "by position") || !net.HasAux() ||
			len(rep.Assumed) == 0 || !strings.Contains(rep.Assumed[0], "by position") {
			t.Fatalf("%s: %+v", name, rep)
		}
		ref, _, _ := Load(sd, Options{})
		a, err := net.Forward(x, 1, 224, 224, true)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := ref.Forward(x, 1, 224, 224, true)
		for i := range a {
			if fixture.MaxAbsDiff(a[i].Data, b[i].Data) != 0 {
				t.Fatalf("%s: %s differs", name, a[i].Name)
			}
		}
		aux := AuxEntries(foreign, rep)
		want := 0
		for _, k := range foreign.Names {
			if strings.HasPrefix(k, "aux_head_") {
				want++
			}
		}
		if len(aux) != want {
			t.Fatalf("%s: %d aux entries, want %d", name, len(aux), want)
		}
	}
	// A checkpoint with torchvision's names and one misspelled key is not
	// bound by position: strict loading still fails.
	sd := stateDict(t, "tutorial_aux.pth")
	bad := tensor.NewStateDict()
	for _, k := range sd.Names {
		n := k
		if k == "inception4b.branch1.conv.weight" {
			n = "inception4b.branch1.conv.weights"
		}
		bad.Set(n, sd.Tensors[k])
	}
	_, _, err := Load(bad, Options{})
	le := loadErr(t, err)
	if !strings.Contains(le.TorchMessage(), `Unexpected key(s) in state_dict: "inception4b.branch1.conv.weights"`) ||
		!strings.Contains(le.Hint, "close to the tutorial layout") {
		t.Fatalf("a misspelled key: %v", err)
	}
	if _, _, err := Load(bad, Options{NonStrict: true}); !errors.Is(err, ErrUnknownLayout) {
		t.Fatalf("a misspelled key loads non-strictly only onto a named layout: %v", err)
	}
}
