package ops

// Add, Sub, Mul and Div: element-wise with numpy broadcasting, on float32
// or int64 operands (integer division by zero gives 0).
var (
	Add = elementwise(func(a, b float32) float32 { return a + b }, func(a, b int64) int64 { return a + b })
	Sub = elementwise(func(a, b float32) float32 { return a - b }, func(a, b int64) int64 { return a - b })
	Mul = elementwise(func(a, b float32) float32 { return a * b }, func(a, b int64) int64 { return a * b })
	Div = elementwise(func(a, b float32) float32 { return a / b }, func(a, b int64) int64 {
		if b == 0 {
			return 0
		}
		return a / b
	})
)

func elementwise(f func(a, b float32) float32, g func(a, b int64) int64) *Op {
	return &Op{
		MinIn: 2, MaxIn: 2, MaxOut: 1,
		Shape: broadcastShape,
		Run: func(c *Ctx, _ Attrs, in []*Value, shape []int) (*Value, error) {
			return broadcast(in[0], in[1], shape, f, g), nil
		},
		Batch: binaryBatch,
	}
}

// broadcastShape is the numpy broadcast of the two operands' shapes.
func broadcastShape(c *Ctx, _ Attrs, in []*Value) ([]int, error) {
	x, y := in[0], in[1]
	if x.Int != y.Int {
		return nil, errorf("operands of different types (float32 and int64)")
	}
	rank := max(len(x.Shape), len(y.Shape))
	xs, ys := padShape(x.Shape, rank), padShape(y.Shape, rank)
	shape := make([]int, rank)
	for i := range shape {
		switch {
		case xs[i] == ys[i] || ys[i] == 1:
			shape[i] = xs[i]
		case xs[i] == 1:
			shape[i] = ys[i]
		default:
			return nil, errorf("shapes %v and %v do not broadcast", x.Shape, y.Shape)
		}
	}
	n, ok := Elements(shape)
	if !ok {
		n = maxCount
	}
	return shape, c.work(n)
}

func padShape(s []int, rank int) []int {
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	copy(out[rank-len(s):], s)
	return out
}

// broadcast applies a binary operator with numpy broadcasting, to the
// shape broadcastShape gave.
func broadcast(x, y *Value, shape []int, f func(a, b float32) float32, g func(a, b int64) int64) *Value {
	rank := len(shape)
	xs, ys := padShape(x.Shape, rank), padShape(y.Shape, rank)
	strides := func(s []int) []int {
		st := make([]int, rank)
		acc := 1
		for i := rank - 1; i >= 0; i-- {
			if s[i] != 1 {
				st[i] = acc
			}
			acc *= s[i]
		}
		return st
	}
	xst, yst := strides(xs), strides(ys)
	n := numel(shape)
	out := &Value{Shape: shape, Int: x.Int}
	if out.Int {
		out.I = make([]int64, n)
	} else {
		out.F = make([]float32, n)
	}
	idx := make([]int, rank)
	xi, yi := 0, 0
	for i := 0; i < n; i++ {
		if out.Int {
			out.I[i] = g(x.I[xi], y.I[yi])
		} else {
			out.F[i] = f(x.F[xi], y.F[yi])
		}
		for d := rank - 1; d >= 0; d-- {
			idx[d]++
			xi += xst[d]
			yi += yst[d]
			if idx[d] < shape[d] {
				break
			}
			xi -= idx[d] * xst[d]
			yi -= idx[d] * yst[d]
			idx[d] = 0
		}
	}
	return out
}

// binaryBatch: both operands batched with the same rank, or a constant
// side that does not reach axis 0 with more than one row.
func binaryBatch(n *BatchNode) (BatchInfo, bool) {
	x, y := n.Ins[0], n.Ins[1]
	rank := max(x.Rank, y.Rank)
	if x.Rank < 0 || y.Rank < 0 {
		return BatchInfo{}, false
	}
	if x.Batched && y.Batched {
		return BatchInfo{true, rank}, x.Rank == y.Rank
	}
	c, cname, b := y, n.Names[1], x
	if y.Batched {
		c, cname, b = x, n.Names[0], y
	}
	if c.Rank < b.Rank {
		return BatchInfo{true, rank}, true
	}
	cv, ok := n.Consts[cname]
	return BatchInfo{true, rank}, ok && c.Rank == b.Rank && len(cv.Shape) > 0 && cv.Shape[0] == 1
}
