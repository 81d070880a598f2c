package ops

// Identity is its input.
var Identity = &Op{
	MinIn: 1, MaxIn: 1, MaxOut: 1, View: true,
	Shape: sameShape,
	Run:   func(_ *Ctx, _ Attrs, in []*Value, _ []int) (*Value, error) { return in[0], nil },
	Batch: sameBatch,
}
