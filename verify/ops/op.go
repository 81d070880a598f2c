package ops

import (
	"fmt"
	"sync/atomic"
)

// Op is what the interpreter knows of an operator.
type Op struct {
	// Attrs are the attributes it takes and their types; any other is
	// refused.
	Attrs map[string]AttrKind
	// MinIn, MaxIn: how many inputs it takes; MaxOut: how many outputs
	// a node may name (only the first is computed).
	MinIn, MaxIn, MaxOut int
	// Check refuses, before anything runs, attribute values the
	// interpreter does not run exactly (inputs is the node's input count).
	Check func(a Attrs, opset, inputs int) error
	// Shape is the output's shape for these inputs, computed with
	// checked arithmetic; it charges the Budget for any work and scratch
	// beyond the output, and refuses inputs Run could not take. Run is
	// called only after Shape succeeded and the output fits the Budget,
	// so nothing out of bounds reaches a kernel's parallel section.
	Shape func(c *Ctx, a Attrs, in []*Value) ([]int, error)
	// Run computes the output, of the shape Shape gave.
	Run func(c *Ctx, a Attrs, in []*Value, shape []int) (*Value, error)
	// View: the output shares its first input's values (allocates none).
	View bool
	// Batch is the batch-splitting rule: given a node with at least one
	// batched input, whether it keeps the images apart and what its
	// output is. Nil keeps the batch whole.
	Batch func(n *BatchNode) (BatchInfo, bool)
}

// Lookup returns the operator of an op_type.
func Lookup(opType string) (*Op, bool) {
	op, ok := table[opType]
	return op, ok
}

// Names lists the operators of the table.
func Names() []string {
	var names []string
	for k := range table {
		names = append(names, k)
	}
	return names
}

// Ctx is what a node runs with.
type Ctx struct {
	Opset  int
	Budget *Budget
	// Alloc returns a float buffer of n values with undefined contents
	// (recycled); nil allocates.
	Alloc func(n int) []float32
	// Conv only, set by the interpreter's fusions: apply the following
	// Relu in the same pass, and write the output where Place says.
	ReLU  bool
	Place ConvOut
}

func (c *Ctx) floats(n int) []float32 {
	if c.Alloc != nil {
		return c.Alloc(n)
	}
	return make([]float32, n)
}

func (c *Ctx) zeros(n int) []float32 {
	b := c.floats(n)
	clear(b)
	return b
}

// work charges the budget for count steps (multiply-adds or comparable).
func (c *Ctx) work(count int64) error {
	if c.Budget == nil {
		return nil
	}
	return c.Budget.Work(count)
}

// scratch checks a temporary buffer of n elements (recycled by the
// kernels, so not added to the run's total) against the budget.
func (c *Ctx) scratch(what string, n int64) error {
	if c.Budget == nil {
		return nil
	}
	return c.Budget.Tensor(what, n)
}

// work and checked products of shapes, for Shape functions
func workOf(factors ...int64) int64 {
	n := int64(1)
	for _, f := range factors {
		var ok bool
		if n, ok = mul(n, f); !ok {
			return maxCount
		}
	}
	return n
}

// Budget bounds one run of a model: the elements of any one tensor, the
// elements allocated over the run and the steps computed. Safe for
// concurrent use (the shares of a batch charge the same budget).
type Budget struct {
	MaxTensor int64
	MaxTotal  int64
	MaxWork   int64

	used, steps atomic.Int64
}

// LimitError is a tensor, run or amount of work over a Budget.
type LimitError struct {
	What  string // what would exceed it
	Need  int64  // -1 when the count overflows
	Limit int64
	Unit  string // "elements in one tensor", "elements in one run", "steps in one run"
}

func (e *LimitError) Error() string {
	need := "more than 2^62"
	if e.Need >= 0 {
		need = fmt.Sprint(e.Need)
	}
	return fmt.Sprintf("%s needs %s %s, over the interpreter's limit of %d (see Limits in docs/verify.md)", e.What, need, e.Unit, e.Limit)
}

// Tensor refuses a tensor of n elements (-1: uncountable) over MaxTensor.
func (b *Budget) Tensor(what string, n int64) error {
	if n < 0 || n > b.MaxTensor {
		return &LimitError{what, n, b.MaxTensor, "elements in one tensor"}
	}
	return nil
}

// Shape checks a tensor's shape against MaxTensor and returns its
// element count. The product of its dimensions, zeros counted as ones,
// must fit, so that no product of some of its dimensions can overflow.
func (b *Budget) Shape(what string, shape []int) (int64, error) {
	if len(shape) > maxRank {
		return 0, errorf("%s has rank %d, over %d", what, len(shape), maxRank)
	}
	n, ok := Extent(shape)
	if !ok {
		n = -1
	}
	if err := b.Tensor(what, n); err != nil {
		return 0, err
	}
	e, _ := Elements(shape)
	return e, nil
}

// Extent is the product of a shape's dimensions with zeros counted as
// ones, false when a dimension is negative or the product exceeds 2^62.
func Extent(shape []int) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		var ok bool
		if n, ok = mul(n, int64(max(d, 1))); !ok || d < 0 {
			return 0, false
		}
	}
	return n, true
}

// Charge adds n allocated elements to the run's total.
func (b *Budget) Charge(n int64) error {
	if t := b.used.Add(n); t > b.MaxTotal || t < 0 {
		return &LimitError{"the run", t, b.MaxTotal, "elements in one run"}
	}
	return nil
}

// Work adds n steps to the run's total.
func (b *Budget) Work(n int64) error {
	if t := b.steps.Add(n); t > b.MaxWork || t < 0 {
		return &LimitError{"the run", t, b.MaxWork, "steps in one run"}
	}
	return nil
}

// Used is the elements allocated so far.
func (b *Budget) Used() int64 { return b.used.Load() }

// Steps is the work charged so far.
func (b *Budget) Steps() int64 { return b.steps.Load() }

// BatchInfo is what the batch-splitting rules know of a value: whether
// axis 0 is the batch, and its rank (-1 when unknown).
type BatchInfo struct {
	Batched bool
	Rank    int
}

// BatchNode is a node as the batch-splitting rules see it.
type BatchNode struct {
	Attrs  Attrs
	Opset  int
	Names  []string    // input names
	Ins    []BatchInfo // by input
	Consts map[string]*Value
}

// OnlyFirst reports whether the first input, and only it, is batched.
func (n *BatchNode) OnlyFirst() bool {
	for _, v := range n.Ins[1:] {
		if v.Batched {
			return false
		}
	}
	return n.Ins[0].Batched
}

// ConstInts is an int64 constant input's values, if input i is one.
func (n *BatchNode) ConstInts(i int) ([]int64, bool) {
	if i >= len(n.Names) {
		return nil, false
	}
	v, ok := n.Consts[n.Names[i]]
	if !ok || !v.Int {
		return nil, false
	}
	return v.I, true
}

// has reports whether input i is given.
func (n *BatchNode) has(i int) bool { return i < len(n.Names) && n.Names[i] != "" }

// NotBatchAxis reports whether axis, of a value of the given rank, is
// known to be other than axis 0.
func NotBatchAxis(axis int64, rank int) bool {
	if axis < 0 {
		if rank < 0 {
			return false
		}
		axis += int64(rank)
	}
	return axis > 0 && (rank < 0 || axis < int64(rank))
}

// sameBatch is the rule of an operator that computes each image from that
// image alone, with only its first input batched.
func sameBatch(n *BatchNode) (BatchInfo, bool) {
	return BatchInfo{true, n.Ins[0].Rank}, n.OnlyFirst()
}

// sameShape is the Shape of an operator whose output is its first input's
// shape.
func sameShape(_ *Ctx, _ Attrs, in []*Value) ([]int, error) { return in[0].Shape, nil }
