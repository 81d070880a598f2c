package ops

// maxConstant bounds a Constant's value where the file does not hold it
// element by element (it always does: its values are in the message).
const maxConstant = 1 << 28

// Constant is the value of its one value attribute.
var Constant = &Op{
	Attrs: map[string]AttrKind{"value": aTensor, "value_float": aFloat, "value_floats": aFloats, "value_int": aInt, "value_ints": aInts},
	MinIn: 0, MaxIn: 0, MaxOut: 1,
	Check: func(a Attrs, _, _ int) error {
		if len(a) != 1 {
			return errorf("Constant needs exactly one value attribute, has %d", len(a))
		}
		_, err := ConstantValue(a)
		return err
	},
	Shape: func(_ *Ctx, a Attrs, _ []*Value) ([]int, error) {
		v, err := ConstantValue(a)
		if err != nil {
			return nil, err
		}
		return v.Shape, nil
	},
	Run: func(_ *Ctx, a Attrs, _ []*Value, _ []int) (*Value, error) {
		return ConstantValue(a)
	},
}

// ConstantValue decodes a Constant node's value.
func ConstantValue(a Attrs) (*Value, error) {
	for name, x := range a {
		switch name {
		case "value":
			return TensorValue(x.GetT(), maxConstant)
		case "value_float":
			return &Value{Shape: []int{}, F: []float32{x.GetF()}}, nil
		case "value_floats":
			return &Value{Shape: []int{len(x.Floats)}, F: append([]float32(nil), x.Floats...)}, nil
		case "value_int":
			return &Value{Shape: []int{}, I: []int64{x.GetI()}, Int: true}, nil
		case "value_ints":
			return &Value{Shape: []int{len(x.Ints)}, I: append([]int64(nil), x.Ints...), Int: true}, nil
		}
	}
	return nil, errorf("Constant has no value")
}
