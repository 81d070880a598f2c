package ops

// Shape is its input's shape, from start to end.
var Shape = &Op{
	Attrs: map[string]AttrKind{"start": aInt, "end": aInt},
	MinIn: 1, MaxIn: 1, MaxOut: 1,
	Shape: func(_ *Ctx, a Attrs, in []*Value) ([]int, error) {
		start, end := shapeRange(a, len(in[0].Shape))
		return []int{int(max(0, end-start))}, nil
	},
	Run: func(_ *Ctx, a Attrs, in []*Value, shape []int) (*Value, error) {
		start, end := shapeRange(a, len(in[0].Shape))
		out := &Value{Int: true, Shape: shape, I: []int64{}}
		for _, d := range in[0].Shape[start:max(start, end)] {
			out.I = append(out.I, int64(d))
		}
		return out, nil
	},
}

func shapeRange(a Attrs, r int) (int64, int64) {
	rank := int64(r)
	start, end := a.Int("start", 0), a.Int("end", rank)
	if start < 0 {
		start += rank
	}
	if end < 0 {
		end += rank
	}
	return clamp(start, 0, rank), clamp(end, 0, rank)
}
