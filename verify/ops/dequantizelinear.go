package ops

// DequantizeLinear is (x - zero_point) · scale in float32, for uint8,
// int8 and int32 x (a quantized bias is int32, with zero point 0).
var DequantizeLinear = &Op{
	Attrs: map[string]AttrKind{"axis": aInt},
	MinIn: 2, MaxIn: 3, MaxOut: 1,
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		x, zero := in[0], optional(in, 2)
		if !x.Int {
			return nil, errorf("DequantizeLinear: the input must be uint8, int8 or int32")
		}
		if zero != nil && (zero.Byte != x.Byte || zero.Int8 != x.Int8) {
			return nil, errorf("DequantizeLinear: the zero point's type is not the input's")
		}
		if zero != nil && !x.Byte && !x.Int8 {
			for _, z := range zero.I {
				if z != 0 {
					return nil, errorf("DequantizeLinear: an int32 input's zero point must be 0")
				}
			}
		}
		if !x.Byte && !x.Int8 {
			for _, v := range x.I {
				if v != int64(int32(v)) {
					return nil, errorf("DequantizeLinear: the input holds a value beyond int32")
				}
			}
		}
		_, err := quantParams(c, a, x, in[1], zero, "DequantizeLinear")
		return x.Shape, err
	},
	Run: func(c *Ctx, a Attrs, in []*Value, shape []int) (*Value, error) {
		x, scale, zero := in[0], in[1], optional(in, 2)
		q, err := quantParams(&Ctx{Opset: c.Opset}, a, x, scale, zero, "DequantizeLinear")
		if err != nil {
			return nil, err
		}
		out := &Value{Shape: shape, F: c.floats(len(x.I))}
		q.eachBlock(len(x.I), func(lo, hi, ch int) {
			z, s := int64(0), scale.F[ch]
			if zero != nil {
				z = zero.I[ch]
			}
			dst := out.F[lo:hi]
			for i, v := range x.I[lo:hi] {
				dst[i] = float32(v-z) * s
			}
		})
		return out, nil
	},
	Batch: quantBatch,
}
