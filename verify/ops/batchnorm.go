package ops

import (
	"math"

	"github.com/gnconv/gnconv/internal/kernels"
)

// BatchNormalization in inference: scale, bias, mean and variance per
// channel (axis 1).
var BatchNormalization = &Op{
	Attrs: map[string]AttrKind{"epsilon": aFloat, "momentum": aFloat, "training_mode": aInt, "spatial": aInt},
	MinIn: 5, MaxIn: 5, MaxOut: 1,
	Check: func(a Attrs, _, _ int) error {
		if a.Int("training_mode", 0) != 0 {
			return errorf("training_mode 1 is not supported (inference only)")
		}
		if a.Int("spatial", 1) != 1 {
			return errorf("spatial 0 is not supported")
		}
		return nil
	},
	Shape: func(c *Ctx, _ Attrs, in []*Value) ([]int, error) {
		x := in[0]
		if err := floatInput(x, "BatchNormalization input"); err != nil {
			return nil, err
		}
		if len(x.Shape) < 2 {
			return nil, errorf("BatchNormalization: input %v has no channel axis", x.Shape)
		}
		for i, v := range in[1:] {
			if v.Int || v.Numel() != x.Shape[1] {
				return nil, errorf("BatchNormalization: input %d has shape %v, want [%d]", i+1, v.Shape, x.Shape[1])
			}
		}
		return x.Shape, c.work(int64(len(x.F)))
	},
	Run: func(c *Ctx, a Attrs, in []*Value, _ []int) (*Value, error) {
		x := in[0]
		ch := x.Shape[1]
		eps := float64(a.Float("epsilon", 1e-5))
		scale, shift := make([]float32, ch), make([]float32, ch)
		for i := 0; i < ch; i++ {
			s := float64(in[1].F[i]) / math.Sqrt(float64(in[4].F[i])+eps)
			scale[i] = float32(s)
			shift[i] = float32(float64(in[2].F[i]) - float64(in[3].F[i])*s)
		}
		out := &Value{Shape: x.Shape, F: append([]float32(nil), x.F...)}
		plane := numel(x.Shape[2:])
		for b := 0; b < x.Shape[0]; b++ {
			kernels.Epilogue{Scale: scale, Shift: shift}.Apply(out.F[b*ch*plane:(b+1)*ch*plane], ch, plane)
		}
		return out, nil
	},
	Batch: sameBatch,
}
