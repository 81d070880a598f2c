package ops

// Dropout in inference: its input. Training mode is refused.
var Dropout = &Op{
	Attrs: map[string]AttrKind{"seed": aInt, "ratio": aFloat, "is_test": aInt},
	MinIn: 1, MaxIn: 3, MaxOut: 1, View: true,
	Check: func(a Attrs, _, _ int) error {
		if _, ok := a["is_test"]; ok && a.Int("is_test", 1) == 0 {
			return errorf("Dropout: is_test 0 (training) is not supported")
		}
		return nil
	},
	Shape: func(_ *Ctx, _ Attrs, in []*Value) ([]int, error) {
		if len(in) == 3 && in[2] != nil {
			if t := in[2]; t.Numel() != 1 || (t.Int && t.I[0] != 0) || (!t.Int && t.F[0] != 0) {
				return nil, errorf("Dropout: training_mode is not supported")
			}
		}
		return in[0].Shape, nil
	},
	Run:   func(_ *Ctx, _ Attrs, in []*Value, _ []int) (*Value, error) { return in[0], nil },
	Batch: sameBatch,
}
