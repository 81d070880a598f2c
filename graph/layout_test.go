package graph_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	. "github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/tensor"
)

// presetStateDict is a state dict with every key of a preset, zeros.
func presetStateDict(t *testing.T, l *Layout, aux bool) *tensor.StateDict {
	t.Helper()
	sd := tensor.NewStateDict()
	// bind a full state dict to read the keys from the network's own list
	net, err := BuildForTest(l, aux)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params() {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		if p.Dst == nil {
			sd.Set(p.Key, &tensor.Tensor{DType: tensor.Int64, Shape: []int{}, Raw: make([]byte, 8)})
			continue
		}
		sd.Set(p.Key, tensor.NewFloat32(p.Shape, make([]float32, n)))
	}
	return sd
}

// TestPresetKeyCounts pins each preset's state-dict keys (docs/checkpoints.md
// lists them) and that each is detected from its own names only.
func TestPresetKeyCounts(t *testing.T) {
	want := map[string][2]int{"tutorial": {128, 116}, "torchvision": {364, 344}, "d2l": {0, 116}, "d2l-1.0": {0, 116}, "cifar": {0, 450}}
	for _, l := range Presets() {
		w, ok := want[l.Name]
		if !ok {
			t.Fatalf("preset %s is not in the documented table", l.Name)
		}
		for i, aux := range []bool{true, false} {
			if aux && w[0] == 0 {
				continue
			}
			sd := presetStateDict(t, l, aux)
			if sd.Len() != w[i] {
				t.Errorf("%s aux=%v: %d keys, want %d", l.Name, aux, sd.Len(), w[i])
			}
			got, _, evidence := Detect(sd)
			if got != l {
				t.Errorf("%s aux=%v detected as %s (%s)", l.Name, aux, got, evidence)
			}
			net, rep, err := Load(sd, Options{})
			if err != nil || net.HasAux() != aux || rep.Classes != 10 {
				t.Errorf("%s aux=%v: %v, %+v", l.Name, aux, err, rep)
			}
			if err := net.CheckInput(l.Input.Size[0], l.Input.Size[1]); err != nil {
				t.Errorf("%s at its own size: %v", l.Name, err)
			}
		}
	}
}

// TestPresetsRoundTrip: a preset written out as a layout file reads back
// as the same network.
func TestPresetsRoundTrip(t *testing.T) {
	for _, l := range Presets() {
		var buf bytes.Buffer
		if err := l.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := DecodeLayout(&buf)
		if err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		a, _ := BuildForTest(l, len(l.Aux) > 0)
		b, _ := BuildForTest(back, len(back.Aux) > 0)
		if len(a.Params()) != len(b.Params()) {
			t.Fatalf("%s: %d params, read back %d", l.Name, len(a.Params()), len(b.Params()))
		}
	}
}

// TestBadLayoutFiles: a layout that does not describe a network that
// builds is refused with a reason.
func TestBadLayoutFiles(t *testing.T) {
	base := `{"format": "gnconv-layout/1", "name": "x", "input": {"channels": 3, "size": 32}, "layers": [%s]}`
	for _, c := range []struct{ layers, want string }{
		{`{"op": "conv", "name": "c", "out": 8, "kernel": 3}, {"op": "flatten"}, {"op": "linear", "name": "fc", "out": "classes"}`, ""},
		{`{"op": "conv", "name": "c", "out": 8, "kernel": 3, "stride": -1}`, "stride"},
		{`{"op": "conv", "name": "c", "out": 8, "kernel": 99}, {"op": "flatten"}, {"op": "linear", "name": "fc", "out": "classes"}`, "too small"},
		{`{"op": "maxpool", "kernel": 3, "padding": 2}`, "half the kernel"},
		{`{"op": "conv", "name": "c", "out": "c9", "kernel": 1}`, "unknown channel name"},
		{`{"op": "spline"}`, "unknown op"},
		{`{"op": "conv", "name": "c", "out": 8, "kernel": 1, "colour": 1}`, "unknown field"},
		{`{"op": "conv", "name": "c", "out": 8, "kernel": 1}`, "must end in a linear"},
		{`{"op": "lrn", "when": "moon", "lrn_size": 5}`, "unknown switch"},
		{`{"op": "flatten"}, {"op": "maxpool", "kernel": 2}`, "after flatten"},
		{`{"template": "nowhere", "name": "u"}`, "unknown template"},
	} {
		_, err := DecodeLayout(strings.NewReader(strings.Replace(base, "%s", c.layers, 1)))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.layers, err)
		case c.want != "" && (err == nil || !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %q", c.layers, err, c.want)
		}
	}
}
