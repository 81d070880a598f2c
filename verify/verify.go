package verify

import (
	"fmt"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"math"
	"math/rand"
	"sort"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/verify/imageprep"
	"github.com/gnconv/gnconv/verify/ops"
)

// Options steer Run.
type Options struct {
	// Inputs is the number of random batches (standard normal, from
	// Seed); 0 means one unless images or an expect file are given, and a
	// negative count none.
	Inputs int
	Seed   int64
	// Batch is the batch size of random inputs when the file leaves it
	// symbolic.
	Batch int
	// Images are decoded and preprocessed into one more batch (see
	// LoadImages), as Preprocess says (nil: imageprep's "imagenet").
	Images     []string
	Preprocess *imageprep.Spec
	// ATol and RTol: an output passes when its max abs error is at most
	// ATol + RTol × max |reference|.
	ATol, RTol float64
	// Outputs names the reference output (logits, aux1, aux2) of each of
	// the file's outputs, in order, for files whose outputs are named
	// otherwise. Empty: by name, or logits for a single output.
	Outputs []string
	// Expect holds PyTorch's own outputs on an input of its own; both the
	// file and the reference pass are compared with them.
	Expect *Expected
	// Limits bound what the interpreter reads and computes (the zero
	// value: DefaultLimits; docs/verify.md, "Limits").
	Limits Limits
	// Errors, if set, is given |file − reference| of every output value
	// of every batch (htmlreport.Histogram bins them).
	Errors interface{ Add(absErr float64) }
	// Layers compares every module's output on the first batch
	// (CompareLayers); without it, that is done only when an output
	// fails, to name the first diverging module.
	Layers bool
}

// Default tolerances, from the errors measured on every preset, the
// layout-file network and torch.onnx.export's files, batch 2 (interop
// tests): the interpreter and PyTorch each differ from the reference pass
// by at most 2.1e-6 of the largest output (RTol 1e-5: about 5× that), and
// softmax outputs, whose largest value is at most 1, by at most 6.8e-6
// absolute (ATol 2e-5: about 3× that, before RTol's share).
const (
	DefaultATol = 2e-5
	DefaultRTol = 1e-5
)

// OutputReport compares one output of the file with the reference.
type OutputReport struct {
	Name      string  `json:"name"`
	Reference string  `json:"reference"` // logits, aux1 or aux2
	Softmax   bool    `json:"softmax"`   // the file ends in Softmax, so the reference did too
	Values    int     `json:"values"`
	MaxAbs    float64 `json:"max_abs_error"`
	MaxRel    float64 `json:"max_rel_error"`
	Cosine    float64 `json:"cosine_similarity"`
	Top1      float64 `json:"top1_agreement"`
	Top5      float64 `json:"top5_agreement"`
	Bound     float64 `json:"bound"`
	Pass      bool    `json:"pass"`
	// Shape says how the shapes differ, when they do (the output fails).
	Shape string `json:"shape_mismatch,omitempty"`

	maxRef           float64
	dot, na, nb      float64
	rows, top1, top5 int
}

// Report is the outcome of a verification.
type Report struct {
	Opset     int            `json:"opset"`
	Input     string         `json:"input"`
	Shape     []int          `json:"input_shape"`
	Batches   int            `json:"batches"`
	Outputs   []OutputReport `json:"outputs"`
	Structure Structure      `json:"structure"`
	// Expect compares with PyTorch's recorded outputs (Options.Expect).
	Expect *ExpectReport `json:"expect,omitempty"`
	// Layers compares every module's output on one batch (Options.Layers,
	// or when an output fails); it does not change Pass.
	Layers *LayersReport `json:"layers,omitempty"`
	// Quantized compares an int8 file's quantized weights, one by one,
	// with the weights' (CheckQuantized); nil for other files.
	Quantized *QuantCheck `json:"quantized,omitempty"`
	Pass      bool        `json:"pass"`
}

// Batch is one input batch, NCHW; C is 0 for the network's channels.
// For a file whose input is uint8 pixels, Pixels (of PixelShape) are what
// the file is fed and Data their normalisation (edges.go).
type Batch struct {
	N, H, W    int
	Data       []float32
	C          int
	Pixels     []float32
	PixelShape []int
}

// Run parses an ONNX file, runs it with the interpreter and net's
// reference forward pass on the same inputs, and compares every output the
// reference can produce.
func Run(data []byte, net *graph.Net, opts Options) (*Report, error) {
	m, err := ParseLimits(data, opts.Limits)
	if err != nil {
		return nil, err
	}
	if opts.ATol == 0 && opts.RTol == 0 {
		opts.ATol, opts.RTol = DefaultTolerances(m)
	}
	if opts.Batch <= 0 {
		opts.Batch = 2
	}
	switch {
	case opts.Inputs < 0:
		opts.Inputs = 0 // none asked for
	case opts.Inputs == 0 && len(opts.Images) == 0 && opts.Expect == nil:
		opts.Inputs = 1
	}
	ch := net.InChannels
	fd, err := newFeed(m, ch)
	if err != nil {
		return nil, err
	}
	if fd.pixels != nil && opts.Expect != nil {
		return nil, fmt.Errorf("the file takes uint8 pixels; an expect file's recorded input is the network's float input, which the file cannot be fed")
	}
	in := m.Inputs[0]
	h, w := fd.h, fd.w
	if h < 0 {
		h = net.Size[0]
	}
	if w < 0 {
		w = net.Size[1]
	}
	n := opts.Batch
	if in.Shape[0] > 0 {
		n = in.Shape[0]
	}
	// the batch, as the file fixes it or as asked for, must fit the
	// limits before anything is allocated for it (a declared batch whose
	// product with the image would wrap is refused here)
	if e, ok := ops.Extent([]int{n, ch, h, w}); !ok || e > m.inputLimit() {
		if !ok {
			e = -1
		}
		return nil, fmt.Errorf("input %q of shape %v: %w", in.Name, []int{n, ch, h, w}, errLimit("it", e, m.inputLimit()))
	}
	rep := &Report{Opset: m.Opset, Input: in.Name, Shape: []int{n, ch, h, w}}
	var withAux bool
	if rep.Outputs, withAux, err = mapOutputs(m, net, opts.Outputs); err != nil {
		return nil, err
	}
	var batches []Batch
	rng := rand.New(rand.NewSource(opts.Seed))
	for i := 0; i < opts.Inputs; i++ {
		batches = append(batches, fd.random(rng, n, h, w))
	}
	if len(opts.Images) > 0 {
		spec := opts.Preprocess
		if spec == nil {
			s, err := imageprep.Preset("imagenet", h, w, ch)
			if err != nil {
				return nil, err
			}
			spec = &s
		}
		imgs, err := LoadImages(opts.Images, *spec, ch, h, w)
		if err != nil {
			return nil, err
		}
		if in.Shape[0] > 0 && imgs.N != in.Shape[0] {
			return nil, fmt.Errorf("the file fixes the batch at %d, but %d images were given", in.Shape[0], imgs.N)
		}
		if imgs, err = fd.fromImages(imgs, spec.Mean, spec.Std); err != nil {
			return nil, err
		}
		batches = append(batches, imgs)
	}
	// onnx-go's second reading of the file runs beside the numeric checks
	structure := make(chan Structure, 1)
	go func() { structure <- CheckStructure(structureData(data, m), m) }()
	for _, b := range batches {
		ref, err := net.Forward(b.Data, b.N, b.H, b.W, withAux)
		if err != nil {
			return nil, fmt.Errorf("reference forward pass: %w", err)
		}
		got, err := m.Run(map[string]*Value{in.Name: inputValue(b, net)})
		if err != nil {
			return nil, fmt.Errorf("interpreter: %w", err)
		}
		if _, err := compareBatch(rep.Outputs, got, ref, net, b.N, withAux, opts.Errors); err != nil {
			return nil, err
		}
		rep.Batches++
	}
	rep.Pass = true
	for i := range rep.Outputs {
		o := &rep.Outputs[i]
		o.finish(opts.ATol, opts.RTol)
		rep.Pass = rep.Pass && o.Pass
	}
	layerBatch := opts.Expect.inputBatch()
	if len(batches) > 0 {
		layerBatch = &batches[0]
	}
	if (opts.Layers || !rep.Pass) && layerBatch != nil {
		lr, err := CompareLayers(m, net, *layerBatch, withAux, in.Name, opts)
		if err != nil {
			lr = &LayersReport{Error: err.Error()}
		}
		rep.Layers = lr
	}
	if opts.Expect != nil {
		er, err := compareExpected(opts.Expect, m, in.Name, rep.Outputs, net, opts)
		if err != nil {
			<-structure
			return nil, err
		}
		rep.Expect = er
		rep.Pass = rep.Pass && er.Pass
	}
	rep.Structure = <-structure
	rep.Pass = rep.Pass && rep.Structure.Pass
	if rep.Quantized = CheckQuantized(m, net); rep.Quantized != nil {
		rep.Pass = rep.Pass && rep.Quantized.Pass
	}
	return rep, nil
}

// compareBatch adds one batch to each output's comparison: the file's
// values (got) against the reference's (ref, after Softmax for an output
// that ends in one) over the batch's first rows images (a padded batch's
// padding is left out). It returns each output's compared values, file's
// first.
func compareBatch(outs []OutputReport, got []*Value, ref []graph.Output, net *graph.Net, rows int, withAux bool, errs interface{ Add(float64) }) ([][2][]float32, error) {
	classes := net.Classes
	pairs := make([][2][]float32, len(outs))
	for i := range outs {
		o := &outs[i]
		var want []float32
		for _, r := range ref {
			if r.Name == o.Reference {
				want = r.Data
			}
		}
		if o.Softmax {
			want = SoftmaxRows(want, classes)
		}
		if want == nil {
			return nil, fmt.Errorf("the network computes no output %s (it has %v)", o.Reference, net.OutputNames(withAux))
		}
		if i >= len(got) || len(got[i].F) != len(want) || len(got[i].Shape) != 2 || got[i].Shape[1] != classes || rows*classes > len(want) {
			var shape []int
			if i < len(got) {
				shape = got[i].Shape
			}
			return nil, &ShapeError{fmt.Sprintf("output %s has shape %v, the reference %s is %d×%d: the file has %s classes, the weights %d",
				o.Name, shape, o.Reference, len(want)/classes, classes, lastDim(shape), classes)}
		}
		g, w := got[i].F[:rows*classes], want[:rows*classes]
		o.add(g, w, classes)
		if errs != nil {
			for j := range g {
				errs.Add(absDiff(g[j], w[j]))
			}
		}
		pairs[i] = [2][]float32{g, w}
	}
	return pairs, nil
}

// mapOutputs names the reference output (logits, aux1, aux2) each of the
// file's outputs computes: by names given in order, else by the file's
// own names, else logits for a single output; withAux says whether any
// is an aux head's.
func mapOutputs(m *Model, net *graph.Net, names []string) (outs []OutputReport, withAux bool, err error) {
	known := map[string]bool{}
	for _, name := range net.OutputNames(true) {
		known[name] = true
	}
	if len(names) > 0 && len(names) != len(m.Outputs) {
		return nil, false, fmt.Errorf("%d output names given for the file's %d outputs", len(names), len(m.Outputs))
	}
	for i, o := range m.Outputs {
		if o.Elem != onnxpb.TensorProto_FLOAT && o.Elem != onnxpb.TensorProto_FLOAT16 {
			return nil, false, fmt.Errorf("the file's output %q is %s; verify compares float32 and float16 outputs with the reference pass", o.Name, o.Elem)
		}
		ref := o.Name
		if r := referenceName(o.Name); r != "" {
			ref = r
		}
		if len(names) > 0 {
			ref = names[i]
		}
		if !known[ref] && ref != "aux1" && ref != "aux2" {
			if len(m.Outputs) != 1 || len(names) > 0 {
				return nil, false, fmt.Errorf("cannot tell which reference output the file's output %q is: name the file's outputs in order with logits, aux1 and aux2 (--outputs)", o.Name)
			}
			ref = "logits"
		}
		if ref != "logits" {
			withAux = true
		}
		outs = append(outs, OutputReport{Name: o.Name, Reference: ref, Softmax: m.ProducerOp(o.Name) == "Softmax"})
	}
	if withAux && !net.HasAux() {
		return nil, false, fmt.Errorf("the file has aux outputs but the weights have no aux heads")
	}
	return outs, withAux, nil
}

// ShapeError is an output whose shape is not the reference's (another
// class count): a mismatch, not an error in running the check.
type ShapeError struct{ Detail string }

func (e *ShapeError) Error() string { return e.Detail }

func lastDim(shape []int) string {
	if len(shape) == 0 {
		return "no"
	}
	return fmt.Sprint(shape[len(shape)-1])
}

func (o *OutputReport) add(got, want []float32, classes int) {
	for _, v := range want {
		o.maxRef = math.Max(o.maxRef, math.Abs(float64(v)))
	}
	for i := range got {
		a, b := float64(got[i]), float64(want[i])
		d := math.Abs(a - b)
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		o.MaxAbs = math.Max(o.MaxAbs, d)
		o.dot += a * b
		o.na += a * a
		o.nb += b * b
	}
	// relative error per element, against a floor of 1e-3 of the largest
	// reference value so that near-zero references do not dominate
	floor := math.Max(1e-3*o.maxRef, 1e-12)
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		o.MaxRel = math.Max(o.MaxRel, d/math.Max(math.Abs(float64(want[i])), floor))
	}
	o.Values += len(got)
	k := min(5, classes)
	for r := 0; r < len(got)/classes; r++ {
		g, w := got[r*classes:(r+1)*classes], want[r*classes:(r+1)*classes]
		tg, tw := topK(g, k), topK(w, k)
		o.rows++
		if tg[0] == tw[0] {
			o.top1++
		}
		sort.Ints(tg)
		sort.Ints(tw)
		same := true
		for i := range tg {
			same = same && tg[i] == tw[i]
		}
		if same {
			o.top5++
		}
	}
}

func (o *OutputReport) finish(atol, rtol float64) {
	o.Bound = atol + rtol*o.maxRef
	o.Cosine = 1
	if o.na > 0 && o.nb > 0 {
		o.Cosine = o.dot / math.Sqrt(o.na*o.nb)
	} else if o.na != o.nb {
		o.Cosine = 0
	}
	if o.rows > 0 {
		o.Top1, o.Top5 = float64(o.top1)/float64(o.rows), float64(o.top5)/float64(o.rows)
	}
	o.Pass = o.MaxAbs <= o.Bound
}

// topK returns the indices of the k largest values, largest first.
func topK(v []float32, k int) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] > v[idx[b]] })
	return idx[:k]
}

// SoftmaxRows is the softmax of each row of a rows×cols matrix, computed
// in float64.
func SoftmaxRows(v []float32, cols int) []float32 {
	out := make([]float32, len(v))
	for r := 0; r < len(v)/cols; r++ {
		row := v[r*cols : (r+1)*cols]
		m := math.Inf(-1)
		for _, x := range row {
			m = math.Max(m, float64(x))
		}
		s := 0.0
		for _, x := range row {
			s += math.Exp(float64(x) - m)
		}
		for i, x := range row {
			out[r*cols+i] = float32(math.Exp(float64(x)-m) / s)
		}
	}
	return out
}

// inputBatch is the recorded input, if any.
func (e *Expected) inputBatch() *Batch {
	if e == nil {
		return nil
	}
	return &e.Input
}
