package verify

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/gnconv/gnconv/internal/half"
	"github.com/gnconv/gnconv/internal/kernels"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/verify/ops"
)

// Run executes the model on one input per graph input and returns every
// graph output, in order. The run is bounded by the model's limits; a
// node that would exceed them, or any other malformed input, is an error
// that names the node, never a crash.
func (m *Model) Run(inputs map[string]*Value) (outs []*Value, err error) {
	outs, _, err = m.run(inputs, nil)
	return outs, err
}

// KeepFunc chooses, as a run produces each value, whether to keep it: it
// is given the value's name, the operator that made it and its shape. (A
// Conv whose output only a Relu reads runs as one node with that Relu:
// its own output is never produced.)
type KeepFunc func(name, op string, shape []int) bool

// RunKeep is Run that also returns a copy of every float32 value that
// keep chose, by name, made when the value was produced: those values
// are not recycled from under the caller. The whole batch goes through
// one run; the copies count against the run's budget.
func (m *Model) RunKeep(inputs map[string]*Value, keep KeepFunc) (outs []*Value, kept map[string]*Value, err error) {
	if keep == nil {
		keep = func(string, string, []int) bool { return false }
	}
	return m.run(inputs, keep)
}

func (m *Model) run(inputs map[string]*Value, keep KeepFunc) (outs []*Value, kept map[string]*Value, err error) {
	defer func() {
		// the last resort: every operator's shape is checked before its
		// kernel runs, so this catches only what those checks missed
		if p := recover(); p != nil {
			outs, kept, err = nil, nil, fmt.Errorf("malformed model (%v)", p)
		}
	}()
	total := int64(0)
	limit := m.inputLimit()
	typed := make(map[string]*Value, len(m.Inputs))
	for _, in := range m.Inputs {
		v, ok := inputs[in.Name]
		if !ok || v == nil {
			return nil, nil, fmt.Errorf("no value for graph input %q", in.Name)
		}
		if (v.Int && in.Elem != onnxpb.TensorProto_UINT8) || (in.Shape != nil && len(v.Shape) != len(in.Shape)) {
			return nil, nil, fmt.Errorf("input %q: shape %v, the model declares %v", in.Name, v.Shape, in.Shape)
		}
		for d, s := range in.Shape {
			if s >= 0 && v.Shape[d] != s {
				return nil, nil, fmt.Errorf("input %q: shape %v, the model declares %v", in.Name, v.Shape, in.Shape)
			}
		}
		n, ok := ops.Extent(v.Shape)
		if !ok || n > limit {
			if !ok {
				n = -1
			}
			return nil, nil, fmt.Errorf("input %q of shape %v: %w", in.Name, v.Shape, errLimit("it", n, limit))
		}
		have := len(v.F)
		if v.Int {
			have = len(v.I)
		}
		if e, _ := ops.Elements(v.Shape); int64(have) != e {
			return nil, nil, fmt.Errorf("input %q: %d values for shape %v", in.Name, have, v.Shape)
		}
		tv, err := typedInput(v, in.Elem)
		if err != nil {
			return nil, nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		typed[in.Name] = tv
		total += n
	}
	inputs = typed
	if keep != nil {
		kept = map[string]*Value{}
		outs, err = m.exec(inputs, 0, m.budget(total), keeper{keep, kept})
	} else {
		outs, err = m.runShared(inputs, total)
	}
	if err != nil {
		return nil, nil, err
	}
	for i, o := range m.Outputs {
		v := outs[i]
		switch {
		case o.Elem == onnxpb.TensorProto_UINT8 || o.Elem == onnxpb.TensorProto_INT8:
			if !v.Byte && !v.Int8 || v.Byte != (o.Elem == onnxpb.TensorProto_UINT8) {
				return nil, nil, fmt.Errorf("graph output %q is not computed as the %s the model declares", o.Name, o.Elem)
			}
		case v.Int:
			return nil, nil, fmt.Errorf("graph output %q is an integer tensor, the model declares %s", o.Name, o.Elem)
		case v.Half != (o.Elem == onnxpb.TensorProto_FLOAT16):
			return nil, nil, fmt.Errorf("graph output %q is computed as %s, the model declares %s", o.Name, floatName(v.Half), o.Elem)
		}
		for d, s := range o.Shape {
			if d < len(v.Shape) && s >= 0 && v.Shape[d] != s {
				return nil, nil, fmt.Errorf("graph output %q has shape %v, the model declares %v", o.Name, v.Shape, o.Shape)
			}
		}
		if o.Shape != nil && len(v.Shape) != len(o.Shape) {
			return nil, nil, fmt.Errorf("graph output %q has shape %v, the model declares %v", o.Name, v.Shape, o.Shape)
		}
	}
	return outs, kept, nil
}

// runShared runs the graph on shares of the batch, one per core, where
// the graph keeps its images apart (separable), and on the whole batch
// otherwise; the shares' outputs are joined along axis 0. A share that
// fails (a reshape that only fits the whole batch) sends the batch through
// whole; a share over the limits fails the run. The shares charge one
// budget for the run, for input elements in all.
func (m *Model) runShared(inputs map[string]*Value, input int64) ([]*Value, error) {
	whole := func() ([]*Value, error) { return m.exec(inputs, 0, m.budget(input), keeper{}) }
	batch := -1
	for _, in := range m.Inputs {
		v := inputs[in.Name]
		if len(v.Shape) == 0 || (batch >= 0 && v.Shape[0] != batch) {
			return whole()
		}
		batch = v.Shape[0]
	}
	if !m.split || batch < 2 {
		return whole()
	}
	type result struct {
		lo   int
		outs []*Value
		err  error
	}
	var mu sync.Mutex
	var shares []result
	budget := m.budget(input)
	kernels.SplitBatch(batch, func(share, lo, hi int) {
		part := make(map[string]*Value, len(m.Inputs))
		for _, in := range m.Inputs {
			part[in.Name] = batchShare(inputs[in.Name], batch, lo, hi)
		}
		outs, err := m.exec(part, share, budget, keeper{})
		mu.Lock()
		shares = append(shares, result{lo, outs, err})
		mu.Unlock()
	})
	if len(shares) == 1 {
		return shares[0].outs, shares[0].err
	}
	sort.Slice(shares, func(i, j int) bool { return shares[i].lo < shares[j].lo })
	for _, sh := range shares {
		var le *LimitError
		if errors.As(sh.err, &le) {
			return nil, sh.err
		}
	}
	for _, sh := range shares {
		if sh.err != nil {
			return whole()
		}
	}
	outs := make([]*Value, len(m.Outputs))
	for i := range outs {
		first := shares[0].outs[i]
		if len(first.Shape) == 0 || first.Int {
			return whole()
		}
		joined := &Value{Shape: append([]int{0}, first.Shape[1:]...), Half: first.Half}
		for _, sh := range shares {
			v := sh.outs[i]
			if v.Int || len(v.Shape) != len(first.Shape) {
				return whole()
			}
			joined.Shape[0] += v.Shape[0]
			joined.F = append(joined.F, v.F...)
		}
		outs[i] = joined
	}
	return outs, nil
}

// exec runs the graph once on inputs already checked against the graph's
// declared inputs and the limits. Each node's output shape is computed
// and checked against the budget before the node runs.
// keeper is RunKeep's choice and the values kept.
type keeper struct {
	keep KeepFunc // nil: keep nothing
	vals map[string]*Value
}

func (m *Model) exec(inputs map[string]*Value, share int, budget *ops.Budget, kp keeper) (outs []*Value, err error) {
	// the node running, named only for an error (formatting its name
	// for every node costs more than some nodes do)
	at := -1
	current := func() string {
		if at < 0 {
			return "(before the first node)"
		}
		return nodeLabel(m.order[at])
	}
	// A file that passes Parse can still describe shapes no operator
	// accepts; whatever slips past the checks is an error, not a crash.
	defer func() {
		if p := recover(); p != nil {
			outs, err = nil, fmt.Errorf("node %s: malformed model (%v)", current(), p)
		}
	}()
	env := make(map[string]*Value, len(m.inits)+len(m.order))
	for k, v := range m.inits {
		env[k] = v
	}
	for _, in := range m.Inputs {
		env[in.Name] = inputs[in.Name]
	}
	// Free each value after its last use: peak memory stays near the
	// widest layer, not the whole network.
	lastUse := map[string]int{}
	for i, n := range m.order {
		for _, in := range n.Input {
			lastUse[in] = i
		}
		if p := m.ints[i]; p != nil {
			lastUse[p.input] = i
		}
	}
	keep := map[string]bool{}
	for _, o := range m.Outputs {
		keep[o.Name] = true
	}
	for k := range m.inits {
		keep[k] = true
	}
	fused := m.fused
	runs := map[*concatPlan]*concatRun{}
	views := map[*Value]view{}
	concatRunOf := func(p *concatPlan) *concatRun {
		if runs[p] == nil {
			runs[p] = &concatRun{}
		}
		return runs[p]
	}
	rec := recycler{acts: m.acts.For(share), owned: map[*float32][]float32{}, refs: map[*float32]int{}}
	for i, n := range m.order {
		if fused[i] < 0 {
			continue // a Relu already applied by its Conv, or a node an intNode stands for
		}
		at = i
		op, a, inNames := m.ops[i], m.attrs[i], n.Input
		intNode := m.ints[i]
		if intNode != nil {
			op, a, inNames = intNode.op, nil, []string{intNode.input}
		}
		ins := make([]*Value, len(inNames))
		for j, name := range inNames {
			if name == "" {
				continue
			}
			ins[j] = env[name]
		}
		for j := 0; j < op.MinIn; j++ {
			if ins[j] == nil {
				return nil, fmt.Errorf("node %s: required input %d is missing", current(), j)
			}
		}
		member, planned := m.concats[i]
		concat := m.concatAt[i]
		if concat == nil {
			// only a planned Concat reads its convolutions in place
			for j, v := range ins {
				ins[j] = materialize(v, views)
			}
		}
		ctx := ops.Ctx{Opset: m.Opset, Budget: budget, Alloc: rec.alloc, ReLU: fused[i] > 0}
		if planned {
			ctx.Place = concatRunOf(member.plan).place(member.plan, member.input, rec.alloc, views, budget)
		}
		var isHalf, anyFloat bool
		var err error
		if intNode == nil {
			isHalf, anyFloat, err = elemTypes(n.GetOpType(), ins)
		}
		var shape []int
		if err == nil {
			shape, err = op.Shape(&ctx, a, ins)
		}
		if err == nil {
			var elems int64
			if elems, err = budget.Shape("its output", shape); err == nil && !op.View {
				err = budget.Charge(elems)
			}
			var le *LimitError
			if errors.As(err, &le) && le.What == "its output" {
				le.What += " " + shapeString(shape)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", current(), err)
		}
		var out *Value
		if concat != nil {
			out = concatViews(concatRunOf(concat), concat, ins, views)
		}
		if out == nil {
			for j, v := range ins {
				ins[j] = materialize(v, views)
			}
			if out, err = op.Run(&ctx, a, ins, shape); err != nil {
				return nil, fmt.Errorf("node %s: %w", current(), err)
			}
			if n.GetOpType() != "Cast" && anyFloat && !out.Int {
				// an operator computes in float32; its float16 result is
				// the nearest float16 (idempotent on a value shared whole)
				out.Half = isHalf
				if isHalf {
					half.RoundAll(out.F)
				}
			}
		}
		set := func(name string) {
			if old, ok := env[name]; ok {
				rec.release(old)
			}
			env[name] = out
			rec.hold(out)
		}
		made, by := n.Output[0], n.GetOpType()
		switch {
		case fused[i] > 0:
			// only the Relu read the Conv's own output
			made, by = m.order[fused[i]].Output[0], "Relu"
		case intNode != nil:
			made, by = intNode.output, "QuantizeLinear"
		}
		set(made)
		if kp.keep != nil && !out.Int && kp.keep(made, by, out.Shape) {
			if err := budget.Charge(int64(out.Numel())); err != nil {
				return nil, fmt.Errorf("node %s: keeping %q: %w", current(), made, err)
			}
			v := materialize(out, views)
			if v == out {
				v = &Value{Shape: append([]int(nil), out.Shape...), F: append([]float32(nil), out.F...)}
			}
			kp.vals[made] = v
		}
		release := func(names []string) {
			for _, name := range names {
				if v, ok := env[name]; ok && lastUse[name] == i && !keep[name] {
					delete(env, name)
					rec.release(v)
				}
			}
		}
		release(n.Input)
		if intNode != nil {
			release(inNames)
		}
	}
	outs = make([]*Value, len(m.Outputs))
	for i, o := range m.Outputs {
		v, ok := env[o.Name]
		if !ok {
			return nil, fmt.Errorf("graph output %q was not computed", o.Name)
		}
		outs[i] = materialize(v, views)
	}
	return outs, nil
}

// shapeString prints a shape for a message, eliding the middle of a long
// one.
func shapeString(shape []int) string {
	if len(shape) > 8 {
		return fmt.Sprintf("%v…%v (rank %d)", shape[:4], shape[len(shape)-2:], len(shape))
	}
	return fmt.Sprint(shape)
}

// recycler hands the buffers of the values that operators allocate back
// to the model's Buffers once no name in the environment holds them. Values
// share a buffer only whole (Reshape, Flatten, Identity, ...), so a buffer
// is known by its first element.
type recycler struct {
	acts  *kernels.Buffers
	owned map[*float32][]float32 // buffers from acts, by first element
	refs  map[*float32]int       // names holding each buffer
}

func (r *recycler) alloc(n int) []float32 {
	b := r.acts.Get(n)
	if n > 0 {
		r.owned[&b[0]] = b
	}
	return b
}

func (r *recycler) hold(v *Value) {
	if v != nil && len(v.F) > 0 {
		r.refs[&v.F[0]]++
	}
}

func (r *recycler) release(v *Value) {
	if v == nil || len(v.F) == 0 {
		return
	}
	p := &v.F[0]
	if r.refs[p]--; r.refs[p] > 0 {
		return
	}
	delete(r.refs, p)
	if b, ok := r.owned[p]; ok {
		delete(r.owned, p)
		r.acts.Put(b)
	}
}

// fusions pairs each Conv whose output only a Relu reads (and that is not
// a graph output) with that Relu: fused[conv] is the Relu's index, and
// fused[relu] is -1; the nodes an intNode stands for are -1 too.
func (m *Model) fusions() []int {
	fused := make([]int, len(m.order))
	readers := map[string][]int{}
	for i, n := range m.order {
		for _, in := range n.Input {
			readers[in] = append(readers[in], i)
		}
	}
	outputs := map[string]bool{}
	for _, o := range m.Outputs {
		outputs[o.Name] = true
	}
	for _, p := range m.ints {
		for _, j := range p.skip {
			fused[j] = -1
		}
	}
	for i, n := range m.order {
		if n.GetOpType() != "Conv" || outputs[n.Output[0]] || m.ints[i] != nil {
			continue
		}
		r := readers[n.Output[0]]
		if len(r) == 1 && m.order[r[0]].GetOpType() == "Relu" && r[0] > i {
			fused[i], fused[r[0]] = r[0], -1
		}
	}
	return fused
}

// ProducerOp names the operator that produces a graph output ("" for an
// input or initializer).
func (m *Model) ProducerOp(name string) string {
	for _, n := range m.order {
		for _, o := range n.Output {
			if o == name {
				return n.GetOpType()
			}
		}
	}
	return ""
}

// typedInput is a caller's input as the graph declares it: float32 as
// given, float16 rounded to the nearest float16 (a copy: the caller's
// values are not changed), uint8 as integers, each of which must be a
// whole number from 0 to 255 (given in F or I).
func typedInput(v *Value, elem onnxpb.TensorProto_DataType) (*Value, error) {
	switch elem {
	case onnxpb.TensorProto_FLOAT16:
		out := &Value{Shape: v.Shape, F: make([]float32, len(v.F)), Half: true}
		for i, x := range v.F {
			out.F[i] = half.Round(x)
		}
		return out, nil
	case onnxpb.TensorProto_UINT8:
		out := &Value{Shape: v.Shape, I: make([]int64, max(len(v.F), len(v.I))), Int: true, Byte: true}
		for i := range out.I {
			var x float64
			if v.Int {
				x = float64(v.I[i])
			} else {
				x = float64(v.F[i])
			}
			if x < 0 || x > 255 || x != float64(int64(x)) {
				return nil, fmt.Errorf("value %d is not a uint8 (a whole number from 0 to 255)", i)
			}
			out.I[i] = int64(x)
		}
		return out, nil
	}
	if v.Half {
		return nil, fmt.Errorf("float16 values for a float32 input")
	}
	return v, nil
}

// elemTypes checks that a node's float operands share one type, and that
// uint8 and int8 values go nowhere but into a Cast or the quantization
// operators (the others compute in float or int64, not with the small
// types' wrap-around): it returns whether the float operands are
// float16, and whether there are any.
func elemTypes(opType string, ins []*Value) (isHalf, seen bool, err error) {
	for _, v := range ins {
		switch {
		case v == nil:
		case v.Byte || v.Int8:
			if opType != "Cast" && opType != "QuantizeLinear" && opType != "DequantizeLinear" {
				return false, false, fmt.Errorf("%s on uint8 or int8 values is not supported (the interpreter runs them only through Cast, QuantizeLinear and DequantizeLinear)", opType)
			}
		case !v.Int:
			if seen && v.Half != isHalf {
				return false, false, fmt.Errorf("operands of different types (float32 and float16)")
			}
			isHalf, seen = v.Half, true
		}
	}
	return isHalf, seen, nil
}

func floatName(isHalf bool) string {
	if isHalf {
		return "float16"
	}
	return "float32"
}

// batchShare is images lo to hi of a batched input, sharing its values.
func batchShare(v *Value, batch, lo, hi int) *Value {
	out := &Value{Shape: append([]int{hi - lo}, v.Shape[1:]...), Int: v.Int, Half: v.Half, Byte: v.Byte, Int8: v.Int8}
	if v.Int {
		per := len(v.I) / batch
		out.I = v.I[lo*per : hi*per]
	} else {
		per := len(v.F) / batch
		out.F = v.F[lo*per : hi*per]
	}
	return out
}
