package ops

// Squeeze drops axes of size 1: the given ones (an attribute before
// opset 13, an input from 13), or every one.
var Squeeze = &Op{
	Attrs: map[string]AttrKind{"axes": aInts},
	MinIn: 1, MaxIn: 2, MaxOut: 1, View: true,
	Shape: func(c *Ctx, a Attrs, in []*Value) ([]int, error) {
		x := in[0]
		axes := a.Ints("axes", nil)
		if c.Opset >= 13 && len(in) > 1 && in[1] != nil {
			var err error
			if axes, err = intInput(in[1], "Squeeze axes"); err != nil {
				return nil, err
			}
		}
		rank := len(x.Shape)
		drop := make([]bool, rank)
		if len(axes) == 0 {
			for d, s := range x.Shape {
				drop[d] = s == 1
			}
		}
		for _, ax := range axes {
			d, err := normAxis(ax, rank)
			if err != nil || x.Shape[d] != 1 {
				return nil, errorf("Squeeze: axis %d of shape %v is not 1", ax, x.Shape)
			}
			drop[d] = true
		}
		shape := []int{}
		for d, s := range x.Shape {
			if !drop[d] {
				shape = append(shape, s)
			}
		}
		return shape, nil
	},
	Run: func(_ *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
		return reshaped(in[0], shape), nil
	},
	Batch: squeezeBatch(false),
}
