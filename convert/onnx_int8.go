package convert

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Static int8 quantization in QDQ form. Every activation a layer makes is
// followed by QuantizeLinear and DequantizeLinear (uint8, one scale and
// zero point per tensor, from the range calibration measured), and every
// convolution and linear layer reads its weights through DequantizeLinear
// from int8 (symmetric, one scale per output channel, axis 0) and its
// bias from int32 at scale input_scale·weight_scale, zero point 0. That
// is the form onnxruntime's QDQ transformer turns into QLinearConv and
// QGemm (uint8 activations with int8 weights, int32 bias, a
// QuantizeLinear on the output); MaxPool and Flatten keep their input's
// scale, so its rules drop their pairs, and each Inception branch ends
// in the scale of the unit's Concat, so the concatenation is exact in
// integers.

// Int8 asks EmitONNX for a statically quantized file.
type Int8 struct {
	// Ranges is the range of each layer's output over the calibration
	// images, by the layer the emitter walks (an Inception unit's is its
	// concatenated output's; a conv block's is after its ReLU).
	Ranges map[*graph.Layer]Range
	// Input is the range of what the network's first layer reads (after
	// transform_input and any preprocessing in the graph).
	Input Range
	// Method and Images are recorded in the metadata.
	Method string
	Images int
}

// Range is the span of values to represent.
type Range struct{ Min, Max float32 }

// qparams is a quantized activation's scale and zero point: their values,
// and the initializers that hold them.
type qparams struct {
	scale     float32
	zero      int64
	sName     string
	zName     string
	quantized bool
}

// Activations are uint8; weights int8 in [-127, 127], so that the
// symmetric scale maps the largest magnitude to an integer on both sides
// (as onnxruntime's own quantizer does).
const (
	actMax    = 255
	weightMax = 127
)

func checkInt8(net *graph.Net, opts ONNXOptions) error {
	q := opts.Int8
	if q == nil {
		return nil
	}
	switch {
	case opts.Float16:
		return fmt.Errorf("int8 quantization and float16 are exclusive: an int8 file computes from float32 scales")
	case opts.Aux:
		return fmt.Errorf("int8 files are written without the aux heads (they are for training; calibration covers the main path)")
	}
	if opts.KeepBN {
		for _, c := range net.Convs() {
			if c.BN != nil {
				return fmt.Errorf("int8 quantization folds batch norm into the convolutions first; --no-fold-bn cannot be combined with it")
			}
		}
	}
	if err := checkRange(q.Input, "the input"); err != nil {
		return err
	}
	var walk func(layers []*graph.Layer) error
	walk = func(layers []*graph.Layer) error {
		for _, l := range layers {
			if l.Kind == graph.KindDropout {
				continue
			}
			r, ok := q.Ranges[l]
			if !ok {
				return fmt.Errorf("no calibration range for layer %s", l.Name)
			}
			if err := checkRange(r, "layer "+l.Name); err != nil {
				return err
			}
			for _, br := range l.Branches {
				if err := walk(br); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(net.Body)
}

func checkRange(r Range, what string) error {
	for _, v := range []float32{r.Min, r.Max} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e30 {
			return fmt.Errorf("the calibration range of %s is not finite", what)
		}
	}
	if r.Min > r.Max {
		return fmt.Errorf("the calibration range of %s is empty", what)
	}
	return nil
}

// ActivationParams is the uint8 scale and zero point of a range: the
// range widened to hold 0 (which must be exact: padding and ReLU make
// it), scale (max−min)/255 and zero point round(−min/scale). A range of
// zero width gets scale 1.
func ActivationParams(r Range) (scale float32, zero int64) {
	lo, hi := math.Min(0, float64(r.Min)), math.Max(0, float64(r.Max))
	scale = float32((hi - lo) / actMax)
	if !(scale > 0) || math.IsInf(float64(scale), 0) {
		return 1, 0
	}
	zero = int64(math.RoundToEven(-lo / float64(scale)))
	return scale, min(max(zero, 0), actMax)
}

// WeightScales is the symmetric int8 scale of each output channel:
// max|w|/127, 1 for a channel of zeros.
func WeightScales(w []float32, out int) []float32 {
	per := len(w) / out
	scales := make([]float32, out)
	for o := range scales {
		m := 0.0
		for _, v := range w[o*per : (o+1)*per] {
			m = math.Max(m, math.Abs(float64(v)))
		}
		scales[o] = float32(m / weightMax)
		if !(scales[o] > 0) {
			scales[o] = 1
		}
	}
	return scales
}

// activation makes the initializers of a range's parameters.
func (e *emitter) activation(name string, r Range) qparams {
	s, z := ActivationParams(r)
	p := qparams{scale: s, zero: z, sName: name + ".scale", zName: name + ".zero_point", quantized: true}
	e.b.initFloat(p.sName, nil, []float32{s}, false)
	e.b.initInt(p.zName, nil, onnxpb.TensorProto_UINT8, []int64{z})
	return p
}

// qdq quantizes and dequantizes x with p: the DequantizeLinear's output,
// named out, is what the next layers read.
func (e *emitter) qdq(x, out string, p qparams) string {
	b := e.b
	q := b.node("QuantizeLinear", nodeName(out)+"/quantize", []string{x, p.sName, p.zName}, out+".quantized")
	y := b.node("DequantizeLinear", nodeName(out)+"/dequantize", []string{q, p.sName, p.zName}, out)
	e.quant[y] = p
	return y
}

// quantizeInput quantizes what the network's first layer reads.
func (e *emitter) quantizeInput(x string) string {
	// named after the quantized value: transform_input's own
	// transform_input.scale is taken
	p := e.activation(x+".quantized", e.opts.Int8.Input)
	q := e.b.node("QuantizeLinear", nodeName(x)+"/quantize", []string{x, p.sName, p.zName}, x+".quantized")
	y := e.b.node("DequantizeLinear", nodeName(x)+"/dequantize", []string{q, p.sName, p.zName}, x+".dequantized")
	e.quant[y] = p
	return y
}

// quantizeLayer quantizes a layer's output y, of input x: with the scale
// the layer was pinned to (an Inception branch's last layer takes the
// unit's), else its input's for MaxPool and Flatten (their values are
// some of their input's), else its own calibrated range. The float
// output is renamed and the dequantized value takes its name, out.
func (e *emitter) quantizeLayer(l *graph.Layer, x, y string) string {
	if l.Kind == graph.KindDropout {
		return y
	}
	p, pinned := e.pin[l]
	switch {
	case pinned:
	case l.Kind == graph.KindMaxPool || l.Kind == graph.KindFlatten:
		p = e.quant[x]
	default:
		p = e.activation(y, e.opts.Int8.Ranges[l])
	}
	renameOutput(e.b, y, y+".float")
	return e.qdq(y+".float", y, p)
}

// pinBranches gives the last layer of each branch of an Inception unit
// the unit's scale.
func (e *emitter) pinBranches(l *graph.Layer, out string) {
	p := e.activation(out, e.opts.Int8.Ranges[l])
	for _, br := range l.Branches {
		e.pin[br[len(br)-1]] = p
	}
	e.pin[l] = p
}

// int8Weights writes a convolution's or linear layer's weight as int8
// with its per-channel scales and its bias as int32 at the scale of
// input × weight, each read through a DequantizeLinear; it returns the
// dequantized values' names (bias "" when there is none).
func (e *emitter) int8Weights(module string, dims []int, w, bias []float32, x string) (wName, bName string) {
	b := e.b
	out := dims[0]
	scales := WeightScales(w, out)
	per := len(w) / out
	q := make([]int64, len(w))
	for i, v := range w {
		q[i] = min(max(int64(math.RoundToEven(float64(v)/float64(scales[i/per]))), -weightMax), weightMax)
	}
	b.initInt(module+".weight", dims, onnxpb.TensorProto_INT8, q)
	b.initFloat(module+".weight_scale", []int{out}, scales, false)
	b.initInt(module+".weight_zero_point", []int{out}, onnxpb.TensorProto_INT8, make([]int64, out))
	wName = b.node("DequantizeLinear", nodeName(module)+"/weight/dequantize",
		[]string{module + ".weight", module + ".weight_scale", module + ".weight_zero_point"}, module+".weight.dequantized", attrInt("axis", 0))
	if bias == nil {
		return wName, ""
	}
	sx := e.quant[x].scale
	bs := make([]float32, out)
	qb := make([]int64, out)
	for o := range bs {
		// the product onnxruntime's kernels take the bias to be at, in float32
		bs[o] = sx * scales[o]
		qb[o] = int64(math.Max(math.MinInt32, math.Min(math.MaxInt32, math.RoundToEven(float64(bias[o])/float64(bs[o])))))
	}
	b.initInt(module+".bias", []int{out}, onnxpb.TensorProto_INT32, qb)
	b.initFloat(module+".bias_scale", []int{out}, bs, false)
	bName = b.node("DequantizeLinear", nodeName(module)+"/bias/dequantize",
		[]string{module + ".bias", module + ".bias_scale"}, module+".bias.dequantized", attrInt("axis", 0))
	return wName, bName
}

// initInt adds an int8, uint8 or int32 initializer in raw_data.
func (b *onnxBuilder) initInt(name string, dims []int, dt onnxpb.TensorProto_DataType, data []int64) string {
	if b.names[name] {
		panic("duplicate initializer " + name)
	}
	b.names[name] = true
	var raw []byte
	switch dt {
	case onnxpb.TensorProto_INT32:
		raw = make([]byte, 4*len(data))
		for i, v := range data {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(int32(v)))
		}
	default:
		raw = make([]byte, len(data))
		for i, v := range data {
			raw[i] = byte(v)
		}
	}
	b.inits = append(b.inits, &onnxpb.TensorProto{Name: proto.String(name), Dims: int64s(dims),
		DataType: proto.Int32(int32(dt)), RawData: raw})
	b.params += len(data)
	return name
}

// int8Metadata records the quantization in metadata_props.
func int8Metadata(meta map[string]string, opts ONNXOptions) {
	q := opts.Int8
	if q == nil {
		meta["quantize"] = "none"
		return
	}
	meta["quantize"] = "int8"
	meta["quantize_format"] = "QDQ: uint8 activations per tensor, int8 symmetric weights per output channel, int32 bias"
	meta["calibration_method"] = q.Method
	meta["calibration_images"] = fmt.Sprint(q.Images)
}
