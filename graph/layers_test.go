package graph_test

import (
	"testing"

	. "github.com/gnconv/gnconv/graph"
)

// TestForwardLayersReportsEveryLayer: ForwardLayers gives the outputs of
// Forward exactly, reports every layer in network order (branches before
// their unit, aux heads after the layer they read), and each unit's
// output is its branches' outputs concatenated along channels (the
// branches written straight into the unit are copied out correctly).
func TestForwardLayersReportsEveryLayer(t *testing.T) {
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		net, _ := loadFixture(t, name, Options{NonStrict: true, TransformInput: name == "torchvision_aux.pth"})
		const batch, h, w = 2, 224, 224
		x := make([]float32, batch*3*h*w)
		for i := range x {
			x[i] = float32((i*13)%101)/50 - 1
		}
		want, err := net.Forward(x, batch, h, w, true)
		if err != nil {
			t.Fatal(err)
		}
		var seen []LayerOutput
		got, err := net.ForwardLayers(x, batch, h, w, true, func(o LayerOutput) {
			o.Data = append([]float32(nil), o.Data...)
			seen = append(seen, o)
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			for j, v := range want[i].Data {
				if got[i].Data[j] != v {
					t.Fatalf("%s %s[%d]: %v, Forward %v", name, want[i].Name, j, got[i].Data[j], v)
				}
			}
		}
		byName := map[string]LayerOutput{}
		var order []string
		outputs := map[string]LayerOutput{}
		for _, o := range seen {
			if n := len(o.Data); n != prod(o.Shape) || o.Shape[0] != batch {
				t.Fatalf("%s %s: %d values for shape %v", name, o.Name, n, o.Shape)
			}
			byName[o.Name] = o
			order = append(order, o.Name)
			if o.Output != "" {
				outputs[o.Output] = o
			}
		}
		if name == "torchvision_aux.pth" && order[0] != "transform_input" {
			t.Fatalf("%s: first %s", name, order[0])
		}
		for _, out := range want {
			o, ok := outputs[out.Name]
			if !ok || len(o.Data) != len(out.Data) || o.Data[0] != out.Data[0] || len(o.Shape) != 2 {
				t.Fatalf("%s: output %s not reported as such", name, out.Name)
			}
		}
		pos := map[string]int{}
		for i, n := range order {
			if _, dup := pos[n]; !dup {
				pos[n] = i
			}
		}
		if !(pos["inception4a.branch1"] < pos["inception4a.branch3.1"] && pos["inception4a.branch3.1"] < pos["inception4a.branch4.0"] &&
			pos["inception4a.branch4.1"] < pos["inception4a"] && pos["inception4a"] < pos["aux1.conv"] && pos["aux1.conv"] < pos["inception4b"]) {
			t.Fatalf("%s: order %v", name, order)
		}
		for _, l := range net.Body {
			if l.Kind != KindInception {
				continue
			}
			unit := byName[l.Name]
			c, hw := unit.Shape[1], unit.Shape[2]*unit.Shape[3]
			first := 0
			for _, br := range l.Branches {
				b := byName[br[len(br)-1].Name]
				bc := b.Shape[1]
				for i := 0; i < batch; i++ {
					for j := 0; j < bc*hw; j++ {
						if b.Data[i*bc*hw+j] != unit.Data[(i*c+first)*hw+j] {
							t.Fatalf("%s %s: branch %s differs from its channels of the unit", name, l.Name, b.Name)
						}
					}
				}
				first += bc
			}
			if first != c {
				t.Fatalf("%s %s: branches make %d channels, the unit %d", name, l.Name, first, c)
			}
		}
	}
}

func prod(s []int) int {
	p := 1
	for _, v := range s {
		p *= v
	}
	return p
}
