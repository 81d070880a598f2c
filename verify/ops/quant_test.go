package ops

import (
	"math"
	"testing"

	"github.com/gnconv/gnconv/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

func runOp(t *testing.T, op *Op, a Attrs, in ...*Value) (*Value, error) {
	t.Helper()
	c := &Ctx{Opset: 13, Budget: &Budget{MaxTensor: 1 << 20, MaxTotal: 1 << 20, MaxWork: 1 << 20}}
	shape, err := op.Shape(c, a, in)
	if err != nil {
		return nil, err
	}
	return op.Run(c, a, in, shape)
}

// TestQuantizeLinear: rounding half to even, saturation at the type's
// ends, per tensor and per axis, and NaN refused.
func TestQuantizeLinear(t *testing.T) {
	x := &Value{Shape: []int{2, 4}, F: []float32{0.5, 1.5, 2.5, -0.5, 1000, -1000, float32(math.Inf(1)), 3.49}}
	scale := &Value{Shape: []int{}, F: []float32{1}}
	u8 := &Value{Shape: []int{}, I: []int64{10}, Int: true, Byte: true}
	got, err := runOp(t, QuantizeLinear, Attrs{}, x, scale, u8)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{10, 12, 12, 10, 255, 0, 255, 13}
	for i := range want {
		if got.I[i] != want[i] || !got.Byte || got.Int8 {
			t.Fatalf("uint8: got %v, want %v", got.I, want)
		}
	}
	i8 := &Value{Shape: []int{}, I: []int64{0}, Int: true, Int8: true}
	got, err = runOp(t, QuantizeLinear, Attrs{}, x, scale, i8)
	if err != nil {
		t.Fatal(err)
	}
	want = []int64{0, 2, 2, 0, 127, -128, 127, 3}
	for i := range want {
		if got.I[i] != want[i] || !got.Int8 {
			t.Fatalf("int8: got %v, want %v", got.I, want)
		}
	}
	// per axis 0: the second row divided by 2
	perAxis := &Value{Shape: []int{2}, F: []float32{1, 2}}
	zp := &Value{Shape: []int{2}, I: []int64{0, 0}, Int: true, Int8: true}
	got, err = runOp(t, QuantizeLinear, Attrs{"axis": attrInt64("axis", 0)}, x, perAxis, zp)
	if err != nil {
		t.Fatal(err)
	}
	want = []int64{0, 2, 2, 0, 127, -128, 127, 2}
	for i := range want {
		if got.I[i] != want[i] {
			t.Fatalf("per axis: got %v, want %v", got.I, want)
		}
	}
	nan := &Value{Shape: []int{1}, F: []float32{float32(math.NaN())}}
	if _, err := runOp(t, QuantizeLinear, Attrs{}, nan, scale, u8); err == nil {
		t.Error("a NaN was quantized")
	}
	for _, s := range []float32{0, -1, float32(math.Inf(1)), float32(math.NaN())} {
		if _, err := runOp(t, QuantizeLinear, Attrs{}, x, &Value{Shape: []int{}, F: []float32{s}}, u8); err == nil {
			t.Errorf("scale %g accepted", s)
		}
	}
	if _, err := runOp(t, QuantizeLinear, Attrs{}, x, &Value{Shape: []int{3}, F: []float32{1, 1, 1}}, nil); err == nil {
		t.Error("3 scales for an axis of 4 accepted")
	}
}

// TestDequantizeLinear: (x - zero point) · scale for each type, per axis.
func TestDequantizeLinear(t *testing.T) {
	x := &Value{Shape: []int{2, 2}, I: []int64{0, 255, 10, 128}, Int: true, Byte: true}
	got, err := runOp(t, DequantizeLinear, Attrs{}, x, &Value{Shape: []int{}, F: []float32{0.5}},
		&Value{Shape: []int{}, I: []int64{128}, Int: true, Byte: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{-64, 63.5, -59, 0}
	for i := range want {
		if got.F[i] != want[i] {
			t.Fatalf("uint8: got %v, want %v", got.F, want)
		}
	}
	w := &Value{Shape: []int{2, 2}, I: []int64{-127, 127, 3, -3}, Int: true, Int8: true}
	got, err = runOp(t, DequantizeLinear, Attrs{"axis": attrInt64("axis", 0)}, w, &Value{Shape: []int{2}, F: []float32{1, 0.25}})
	if err != nil {
		t.Fatal(err)
	}
	want = []float32{-127, 127, 0.75, -0.75}
	for i := range want {
		if got.F[i] != want[i] {
			t.Fatalf("int8 per axis: got %v, want %v", got.F, want)
		}
	}
	bias := &Value{Shape: []int{2}, I: []int64{1 << 20, -5}, Int: true}
	got, err = runOp(t, DequantizeLinear, Attrs{}, bias, &Value{Shape: []int{}, F: []float32{0.5}})
	if err != nil || got.F[0] != 1<<19 || got.F[1] != -2.5 {
		t.Fatalf("int32: %v %v", got, err)
	}
	if _, err := runOp(t, DequantizeLinear, Attrs{}, bias, &Value{Shape: []int{}, F: []float32{1}},
		&Value{Shape: []int{}, I: []int64{1}, Int: true}); err == nil {
		t.Error("an int32 input with a zero point of 1 accepted")
	}
	if _, err := runOp(t, DequantizeLinear, Attrs{}, x, &Value{Shape: []int{}, F: []float32{1}},
		&Value{Shape: []int{}, I: []int64{0}, Int: true, Int8: true}); err == nil {
		t.Error("a uint8 input with an int8 zero point accepted")
	}
	if _, err := runOp(t, DequantizeLinear, Attrs{}, &Value{Shape: []int{1}, F: []float32{1}}, &Value{Shape: []int{}, F: []float32{1}}); err == nil {
		t.Error("a float input accepted")
	}
}

func attrInt64(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}
