package convert_test

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/convert/calib"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
)

// TestInt8Emission: an int8 file of each layout, with transform_input,
// LRN or pixel input, holds no float weight, a QuantizeLinear for every
// DequantizeLinear of an activation, and records the quantization; the
// options it cannot combine with are refused.
func TestInt8Emission(t *testing.T) {
	for _, c := range []struct {
		name string
		opts graph.Options
	}{{"tutorial_aux.pth", graph.Options{}}, {"torchvision_aux.pth", graph.Options{TransformInput: true}}} {
		ck, err := fixture.Checkpoint(c.name)
		if err != nil {
			t.Fatal(err)
		}
		net, _, err := graph.Load(ck.StateDict, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		net = net.WithoutAux()
		col := calib.New(net)
		h, w := net.Size[0], net.Size[1]
		x := make([]float32, net.InChannels*h*w)
		rng := rand.New(rand.NewSource(1))
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		if err := col.Add(x, 1, h, w); err != nil {
			t.Fatal(err)
		}
		q, err := col.Int8(calib.Options{Method: "percentile"})
		if err != nil {
			t.Fatal(err)
		}
		em, err := convert.EmitONNX(net, convert.ONNXOptions{Version: "test", Int8: q, Opset: 13})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		g := em.Model.Graph
		for _, x := range g.Initializer {
			if strings.HasSuffix(x.GetName(), ".weight") && x.GetDataType() != 3 { // INT8
				t.Errorf("%s: %s is not int8", c.name, x.GetName())
			}
		}
		if em.OpCounts["QuantizeLinear"] == 0 || em.OpCounts["DequantizeLinear"] <= em.OpCounts["QuantizeLinear"] {
			t.Errorf("%s: ops %v", c.name, em.OpCounts)
		}
		meta := map[string]string{}
		for _, p := range em.Model.MetadataProps {
			meta[p.GetKey()] = p.GetValue()
		}
		if meta["quantize"] != "int8" || meta["calibration_method"] != "percentile 99.99" || meta["calibration_images"] != "1" {
			t.Errorf("%s: metadata %v", c.name, meta)
		}
		for _, bad := range []convert.ONNXOptions{
			{Int8: q, Float16: true}, {Int8: q, Aux: true}, {Int8: &convert.Int8{Ranges: q.Ranges, Input: convert.Range{Min: 1, Max: -1}}},
			{Int8: &convert.Int8{Input: q.Input}},
		} {
			if _, err := convert.EmitONNX(net, bad); err == nil {
				t.Errorf("%s: %+v accepted", c.name, bad)
			}
		}
	}
}
