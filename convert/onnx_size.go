package convert

import (
	"fmt"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/onnxpb"
)

// Symbolic input sizes (import --size dynamic): a file whose height and
// width are left to the caller. Every layer gnconv writes computes its
// output size at run time (Conv, pools with ceil_mode, the adaptive 1x1
// head as GlobalAveragePool), so the body and head take any size the
// layers fit; the aux heads do not: their pools are written for the
// layout's size (torchvision's adaptive 4x4 windows as fixed slices, the
// tutorial's 5/3 pool feeding a linear layer made for a 4x4 map).

// Dimension markers in a graphInput's dims for the symbolic height and
// width.
const (
	dimHeight = -1
	dimWidth  = -2
)

func dimension(d int) *onnxpb.TensorShapeProto_Dimension {
	switch d {
	case dimHeight:
		return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "height"}}
	case dimWidth:
		return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "width"}}
	}
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}}
}

// MinInputSize is the smallest height and width the network's body and
// head take (each with the other at the layout's size: GoogLeNet's
// layers treat the two independently).
func MinInputSize(net *graph.Net) (h, w int) {
	body := net.WithoutAux()
	h, w = smallest(net.Size[0], func(v int) bool { return body.CheckInput(v, net.Size[1]) == nil }),
		smallest(net.Size[1], func(v int) bool { return body.CheckInput(net.Size[0], v) == nil })
	return h, w
}

// smallest is the least v in 1..upto for which fits holds, where it holds
// for every size from there up to upto (upto itself when none below
// does).
func smallest(upto int, fits func(int) bool) int {
	best := upto
	for v := upto - 1; v >= 1 && fits(v); v-- {
		best = v
	}
	return best
}

// checkSize checks the input size the file is written for, and for a
// dynamic file that it has no aux outputs. A size that is too small says
// which is the smallest.
func checkSize(net *graph.Net, opts ONNXOptions) error {
	if opts.Dynamic && opts.Aux {
		return fmt.Errorf("--size dynamic cannot keep the aux heads: their pools are written for the %dx%d input (the fixed 4x4 windows of the maps inception4a and inception4d make at that size, read by a linear layer made for them); write the aux outputs at a fixed size", net.Size[0], net.Size[1])
	}
	err := net.CheckInput(opts.Height, opts.Width)
	if err == nil {
		return nil
	}
	if mh, mw := MinInputSize(net); opts.Height < mh || opts.Width < mw {
		return fmt.Errorf("%w; the smallest input this network takes is %dx%d", err, mh, mw)
	}
	return err
}
