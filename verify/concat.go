package verify

import "github.com/gnconv/gnconv/verify/ops"

// An Inception unit ends in a Concat of convolutions (each followed by its
// Relu) that nothing else reads. Rather than copy their outputs into the
// Concat's, the interpreter has each convolution write its channels of the
// Concat's output directly, as the reference forward pass does: a
// concatPlan names such a Concat and its convolutions, found once from
// the graph; a concatRun carries one run's shared buffer.

// concatPlan is a Concat along channels whose inputs are all convolution
// outputs (by way of a fused Relu or not) read by nothing else.
type concatPlan struct {
	node     int   // the Concat's index in the order
	first    []int // each input's first channel
	channels int   // the Concat's channels
}

// concatMember is a planned convolution's plan and input position.
type concatMember struct {
	plan  *concatPlan
	input int
}

// planConcats finds the Concats whose inputs can be written in place.
func (m *Model) planConcats() map[int]concatMember {
	producer := map[string]int{} // value name → node index of the Conv that makes it
	readers := map[string]int{}
	for _, n := range m.order {
		for _, in := range n.Input {
			readers[in]++
		}
	}
	for _, o := range m.Outputs {
		readers[o.Name]++ // a graph output is read by the caller
	}
	for i, n := range m.order {
		switch {
		case n.GetOpType() == "Conv" && m.fused[i] == 0:
			producer[n.Output[0]] = i
		case m.fused[i] < 0:
			// a Relu fused with the Conv that feeds it
			for j, f := range m.fused {
				if f == i {
					producer[n.Output[0]] = j
				}
			}
		}
	}
	members := map[int]concatMember{}
	for i, n := range m.order {
		if n.GetOpType() != "Concat" || m.attrs[i].Int("axis", 0) != 1 || len(n.Input) < 2 {
			continue
		}
		plan := &concatPlan{node: i}
		var convs []int
		for _, in := range n.Input {
			c, ok := producer[in]
			if !ok || readers[in] != 1 {
				plan = nil
				break
			}
			w, ok := m.inits[m.order[c].Input[1]]
			if !ok || len(w.Shape) != 4 {
				plan = nil
				break
			}
			if _, taken := members[c]; taken {
				plan = nil
				break
			}
			plan.first = append(plan.first, plan.channels)
			plan.channels += w.Shape[0]
			convs = append(convs, c)
		}
		if plan == nil {
			continue
		}
		for j, c := range convs {
			members[c] = concatMember{plan, j}
		}
	}
	return members
}

// concatRun is one run's state of a plan: the Concat's buffer, made by the
// first of its convolutions to run, for outputs of that one's batch and
// size; a convolution that does not fit writes a buffer of its own and the
// Concat copies as usual.
type concatRun struct {
	buf     []float32
	n, h, w int
}

// view is a convolution's output written into a Concat's buffer (its
// value's F is nil): the run's buffer, and the first channel.
type view struct {
	run   *concatRun
	first int
}

// place returns the ConvOut of a planned convolution. The Concat's buffer
// is made only when it fits the budget; otherwise the convolution writes
// a buffer of its own, and the Concat's own checks decide.
func (r *concatRun) place(plan *concatPlan, input int, alloc func(int) []float32, views map[*Value]view, budget *ops.Budget) ops.ConvOut {
	return func(n, c, h, w int) (*Value, []float32, int) {
		if r.buf == nil {
			if _, err := budget.Shape("the Concat", []int{n, plan.channels, h, w}); err != nil {
				return ops.OwnBuffer(alloc)(n, c, h, w)
			}
			r.buf, r.n, r.h, r.w = alloc(n*plan.channels*h*w), n, h, w
		}
		first := plan.first[input]
		if n != r.n || h != r.h || w != r.w || first+c > plan.channels {
			return ops.OwnBuffer(alloc)(n, c, h, w)
		}
		v := &Value{Shape: []int{n, c, h, w}}
		views[v] = view{r, first}
		return v, r.buf[first*h*w:], plan.channels * h * w
	}
}

// concatViews is the Concat's output when every input is a view of run's
// buffer in order, covering all of it; otherwise nil.
func concatViews(run *concatRun, plan *concatPlan, ins []*Value, views map[*Value]view) *Value {
	c := 0
	for _, v := range ins {
		vw, ok := views[v]
		if !ok || vw.run != run || vw.first != c {
			return nil
		}
		c += v.Shape[1]
	}
	if c != plan.channels {
		return nil
	}
	return &Value{Shape: []int{run.n, c, run.h, run.w}, F: run.buf}
}

// materialize copies a view's values out of the Concat's buffer.
func materialize(v *Value, views map[*Value]view) *Value {
	vw, ok := views[v]
	if v == nil || !ok {
		return v
	}
	n, c, h, w := v.Shape[0], v.Shape[1], v.Shape[2], v.Shape[3]
	r := vw.run
	total := len(r.buf) / (r.n * r.h * r.w)
	out := &Value{Shape: v.Shape, F: make([]float32, n*c*h*w)}
	for i := 0; i < n; i++ {
		copy(out.F[i*c*h*w:(i+1)*c*h*w], r.buf[(i*total+vw.first)*h*w:])
	}
	return out
}
