package graph_test

import (
	"fmt"
	"strings"
	"testing"

	. "github.com/gnconv/gnconv/graph"
)

// fakeModule is a module record with attributes, as a whole-model file
// gives them.
type fakeModule struct {
	class string
	attrs map[string]interface{}
}

func (m *fakeModule) ShortClass() string { return m.class }
func (m *fakeModule) Attr(name string) (interface{}, bool) {
	v, ok := m.attrs[name]
	return v, ok
}
func (m *fakeModule) Int(name string) (int, error) {
	if v, ok := m.attrs[name].(int); ok {
		return v, nil
	}
	return 0, fmt.Errorf("%s: no int", name)
}
func (m *fakeModule) Ints(name string) ([2]int, error) {
	switch v := m.attrs[name].(type) {
	case int:
		return [2]int{v, v}, nil
	case [2]int:
		return v, nil
	}
	return [2]int{}, fmt.Errorf("%s: no ints", name)
}
func (m *fakeModule) Float(name string) (float64, error) {
	if v, ok := m.attrs[name].(float64); ok {
		return v, nil
	}
	return 0, fmt.Errorf("%s: no float", name)
}
func (m *fakeModule) Bool(name string) (bool, error) {
	if v, ok := m.attrs[name].(bool); ok {
		return v, nil
	}
	return false, fmt.Errorf("%s: no bool", name)
}

type fakeModel map[string]*fakeModule

func (f fakeModel) Root() ModelModule { return &fakeModule{class: "TutorialGoogLeNet"} }
func (f fakeModel) Find(p string) ModelModule {
	if m, ok := f[p]; ok {
		return m
	}
	return nil
}
func (f fakeModel) Leaves() []string {
	var out []string
	for p := range f {
		out = append(out, p)
	}
	return out
}

// tutorialModel is the module tree of the tutorial network as the preset
// describes it.
func tutorialModel(t *testing.T) fakeModel {
	t.Helper()
	m := fakeModel{}
	net, err := BuildForTest(Preset("tutorial"), true)
	if err != nil {
		t.Fatal(err)
	}
	var walk func([]*Layer)
	walk = func(layers []*Layer) {
		for _, l := range layers {
			switch {
			case l.Conv != nil:
				c := l.Conv
				m[c.Module] = &fakeModule{"Conv2d", map[string]interface{}{"stride": c.Stride, "padding": c.Pad, "dilation": 1, "groups": 1, "padding_mode": "zeros"}}
			case l.Kind == KindMaxPool || l.Kind == KindAvgPool:
				p := l.Pool
				cls := map[bool]string{true: "MaxPool2d", false: "AvgPool2d"}[p.Max]
				m[l.Name] = &fakeModule{cls, map[string]interface{}{"kernel_size": p.K, "stride": p.Stride, "padding": p.Pad,
					"ceil_mode": p.Ceil, "dilation": 1, "return_indices": false, "count_include_pad": p.CountIncludePad, "divisor_override": nil}}
			case l.Kind == KindAdaptiveAvgPool:
				m[l.Name] = &fakeModule{"AdaptiveAvgPool2d", map[string]interface{}{"output_size": l.Pool.Out}}
			case l.Linear != nil:
				m[l.Linear.Name] = &fakeModule{"Linear", nil}
			}
			for _, br := range l.Branches {
				walk(br)
			}
		}
	}
	walk(net.Body)
	for _, a := range net.Aux {
		walk(a.Layers)
	}
	m["dropout"] = &fakeModule{"Dropout", nil}
	return m
}

// TestModelOverridesLayout: a whole model's recorded hyperparameters win
// over the layout's and are reported; its LRN module switches the layout's
// LRN layers on; a module the layout does not place is refused.
func TestModelOverridesLayout(t *testing.T) {
	sd := stateDict(t, "tutorial_aux.pth")
	model := tutorialModel(t)
	if _, rep, err := Load(sd, Options{Model: model}); err != nil || len(rep.FromModel) != 0 {
		t.Fatalf("the preset's own model: %v %v", err, rep.FromModel)
	}
	model["maxpool1"].attrs["ceil_mode"] = false
	model["maxpool1"].attrs["padding"] = 1
	net, rep, err := Load(sd, Options{Model: model})
	if err != nil || len(rep.FromModel) != 1 || !strings.Contains(rep.FromModel[0], "maxpool1") {
		t.Fatalf("a pool with other parameters: %v %v", err, rep.FromModel)
	}
	if p := net.Body[1].Pool; p.Ceil || p.Pad != [2]int{1, 1} {
		t.Fatalf("maxpool1 is %+v", p)
	}
	model["lrn"] = &fakeModule{"LocalResponseNorm", map[string]interface{}{"size": 3, "alpha": 2e-4, "beta": 0.5, "k": 2.0}}
	net, _, err = Load(sd, Options{Model: model})
	if err != nil || !net.Switches.LRN {
		t.Fatalf("an LRN module: %v, lrn %v", err, net != nil && net.Switches.LRN)
	}
	for _, l := range net.Body {
		if l.Kind == KindLRN && (l.LRN.Size != 3 || l.LRN.Bias != 2) {
			t.Fatalf("LRN %+v, not the model's", l.LRN)
		}
	}
	model["mystery"] = &fakeModule{"Swish", nil}
	if _, _, err := Load(sd, Options{Model: model}); err == nil || !strings.Contains(err.Error(), "mystery (Swish)") {
		t.Fatalf("an unplaced module: %v", err)
	}
	delete(model, "mystery")
	model["conv1.conv"].attrs["groups"] = 2
	if _, _, err := Load(sd, Options{Model: model}); err == nil || !strings.Contains(err.Error(), "groups") {
		t.Fatalf("a grouped convolution: %v", err)
	}
}
