package verify

import "github.com/gnconv/gnconv/verify/ops"

// Limits bound what the interpreter reads and computes for one file, so
// that a hostile file of a few hundred bytes cannot make it allocate or
// compute without end. Each run's budgets are proportional to the file
// (its weights) and to the run's input, and never above the hard caps.
// A zero field takes its default (DefaultLimits); Scaled raises them all.
type Limits struct {
	// MaxFileBytes: larger files are refused before they are read
	// (default 2 GiB, protobuf's own limit).
	MaxFileBytes int64
	// MaxNodes and MaxInitializers: counted in the file's bytes before
	// it is decoded (default 100,000 each; also the cap on graph inputs,
	// outputs and value_info entries).
	MaxNodes, MaxInitializers int
	// Hard caps: elements of one tensor (default 2^28, 1 GiB of float32),
	// elements allocated over one run (default 2^32) and steps
	// (multiply-adds and comparable) computed in one run (default 2^42).
	MaxTensorElements, MaxRunElements, MaxRunWork int64
	// Proportional budgets, from the file's weights W (elements of all
	// initializers), its largest initializer L, the run's input I and a
	// floor F (MinBase, default 2^16):
	//   input (declared or given)  ≤ InputFactor × max(W, F)        (default 64)
	//   one tensor                  ≤ TensorFactor × max(L, I, F)  (default 256)
	//   one run's allocations       ≤ RunFactor × max(W, I, F)     (default 1024)
	//   one run's work              ≤ WorkFactor × max(W, I, F)    (default 65536)
	// A declared shape (graph input, output or value_info) counts as an
	// input; their sum must stay within four times the input budget.
	InputFactor, TensorFactor, RunFactor, WorkFactor, MinBase int64
}

// DefaultLimits are the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{
		MaxFileBytes:      1 << 31,
		MaxNodes:          100_000,
		MaxInitializers:   100_000,
		MaxTensorElements: 1 << 28,
		MaxRunElements:    1 << 32,
		MaxRunWork:        1 << 42,
		InputFactor:       64,
		TensorFactor:      256,
		RunFactor:         1024,
		WorkFactor:        1 << 16,
		MinBase:           1 << 16,
	}
}

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.MaxFileBytes, d.MaxFileBytes)
	set(&l.MaxTensorElements, d.MaxTensorElements)
	set(&l.MaxRunElements, d.MaxRunElements)
	set(&l.MaxRunWork, d.MaxRunWork)
	set(&l.InputFactor, d.InputFactor)
	set(&l.TensorFactor, d.TensorFactor)
	set(&l.RunFactor, d.RunFactor)
	set(&l.WorkFactor, d.WorkFactor)
	set(&l.MinBase, d.MinBase)
	if l.MaxNodes <= 0 {
		l.MaxNodes = d.MaxNodes
	}
	if l.MaxInitializers <= 0 {
		l.MaxInitializers = d.MaxInitializers
	}
	return l
}

// Scaled multiplies every limit and factor of l (its defaults where
// unset) by k, saturating; the CLI's --limit-scale.
func (l Limits) Scaled(k int64) Limits {
	l = l.withDefaults()
	if k <= 1 {
		return l
	}
	m := func(v *int64) {
		if *v > (1<<62)/k {
			*v = 1 << 62
		} else {
			*v *= k
		}
	}
	for _, v := range []*int64{&l.MaxFileBytes, &l.MaxTensorElements, &l.MaxRunElements, &l.MaxRunWork,
		&l.InputFactor, &l.TensorFactor, &l.RunFactor, &l.WorkFactor} {
		m(v)
	}
	mi := func(v *int) {
		if *v > (1<<31)/int(k) {
			*v = 1 << 31
		} else {
			*v *= int(k)
		}
	}
	mi(&l.MaxNodes)
	mi(&l.MaxInitializers)
	return l
}

// LimitError is a tensor, run or amount of work over the limits.
type LimitError = ops.LimitError

// prod is a·b saturating at 2^62 (both non-negative).
func prod(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > (1<<62)/b {
		return 1 << 62
	}
	return a * b
}

// inputLimit is the most elements a graph input may hold.
func (m *Model) inputLimit() int64 {
	l := m.limits
	return min(l.MaxTensorElements, prod(l.InputFactor, max(m.weights, l.MinBase)))
}

// budget is a run's budget for inputs of the given element count.
func (m *Model) budget(input int64) *ops.Budget {
	l := m.limits
	t := max(m.largest, input, l.MinBase)
	base := max(m.weights, input, l.MinBase)
	return &ops.Budget{
		MaxTensor: min(l.MaxTensorElements, prod(l.TensorFactor, t)),
		MaxTotal:  min(l.MaxRunElements, prod(l.RunFactor, base)),
		MaxWork:   min(l.MaxRunWork, prod(l.WorkFactor, base)),
	}
}

// errLimit is a LimitError for a declared or given count.
func errLimit(what string, n, limit int64) error {
	if n < 0 {
		return &LimitError{What: what, Need: -1, Limit: limit, Unit: "elements"}
	}
	return &LimitError{What: what, Need: n, Limit: limit, Unit: "elements"}
}
