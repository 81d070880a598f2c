package verify

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/internal/preprocess"
	"github.com/gnconv/gnconv/verify/imageprep"
	"github.com/gnconv/gnconv/verify/ops"
)

// FolderOptions steer RunFolder.
type FolderOptions struct {
	// Spec preprocesses every image (imageprep.Preset for a named one).
	Spec imageprep.Spec
	// Batch is the images per run (default 8); Workers the goroutines
	// that decode images while the network runs (default: one per core).
	Batch, Workers int
	// MaxPixels bounds each image's pixels (imageprep.DefaultMaxPixels).
	MaxPixels int
	// Labels are the network's class names, in class order (optional).
	// When every sub-folder is named after one, images are labelled by
	// name; otherwise by sub-folder order, as ImageFolder numbers them.
	Labels []string
	// ATol, RTol, Outputs and Limits are as in Options.
	ATol, RTol float64
	Outputs    []string
	Limits     Limits
	// Progress, if set, is called after each batch with the images done
	// and the images in all.
	Progress func(done, total int)
	// Errors, if set, is given |ONNX − reference| of every output value.
	Errors interface{ Add(absErr float64) }
	// MaxListed bounds the disagreements listed (default 50).
	MaxListed int
}

// FolderReport is the outcome of RunFolder.
type FolderReport struct {
	Root       string `json:"root"`
	Images     int    `json:"images"`
	Preprocess string `json:"preprocess"`
	// Outputs compare the file with the reference pass over every image.
	Outputs []OutputReport `json:"outputs"`
	// Labelled says how images got their classes: "" (no classes), "by
	// sub-folder order" or "by sub-folder name".
	Labelled string `json:"labelled,omitempty"`
	// Accuracy of the file's and the reference's top classes (with
	// classes), and each class's.
	Accuracy *Accuracy    `json:"accuracy,omitempty"`
	Classes  []ClassScore `json:"classes,omitempty"`
	// Disagreements are images whose top class differs between the file
	// and the reference, in folder order, at most MaxListed of them.
	Disagreements []Disagreement `json:"disagreements,omitempty"`
	Disagreeing   int            `json:"disagreeing"`
	Pass          bool           `json:"pass"`
}

// Accuracy is the share of labelled images whose class is the top one
// (Top1) or among the top five (Top5).
type Accuracy struct {
	Images         int     `json:"images"`
	ONNXTop1       float64 `json:"onnx_top1"`
	ONNXTop5       float64 `json:"onnx_top5"`
	ReferenceTop1  float64 `json:"reference_top1"`
	ReferenceTop5  float64 `json:"reference_top5"`
	onnx1, onnx5   int
	ref1, ref5     int
	perClassOnnx   []int
	perClassRef    []int
	perClassImages []int
}

// ClassScore is one class's top-1 accuracy.
type ClassScore struct {
	Class     int     `json:"class"`
	Name      string  `json:"name,omitempty"`
	Folder    string  `json:"folder"`
	Images    int     `json:"images"`
	ONNX      float64 `json:"onnx_top1"`
	Reference float64 `json:"reference_top1"`
	// ONNXCorrect and ReferenceCorrect count the images each classifies
	// right (top-1); ONNX and Reference are their shares of Images.
	ONNXCorrect      int `json:"onnx_correct"`
	ReferenceCorrect int `json:"reference_correct"`
}

// Disagreement is an image on whose top class the file and the reference
// differ.
type Disagreement struct {
	File      string `json:"file"`
	Class     int    `json:"class"` // its label, -1 without one
	ONNX      []int  `json:"onnx_top5"`
	Reference []int  `json:"reference_top5"`
	index     int
}

// RunFolder runs every image of an image folder (imageprep.ScanFolder)
// through the parsed file and the reference pass and compares them, as
// Run does for random batches (Run also checks the file's structure,
// which RunFolder leaves to it), with the classes' accuracy when the
// folder has classes. Images are decoded by Workers goroutines while the
// network runs, a batch at a time: memory is bounded by the batch and the
// workers, not by the folder.
func RunFolder(ctx context.Context, m *Model, net *graph.Net, f *imageprep.Folder, opts FolderOptions) (*FolderReport, error) {
	ch := net.InChannels
	fd, err := newFeed(m, ch)
	if err != nil {
		return nil, err
	}
	h, w := fd.h, fd.w
	if h < 0 {
		h = net.Size[0]
	}
	if w < 0 {
		w = net.Size[1]
	}
	if err := opts.Spec.Check(h, w, ch); err != nil {
		return nil, err
	}
	if opts.Batch <= 0 {
		opts.Batch = 8
	}
	in := m.Inputs[0]
	if in.Shape[0] > 0 {
		opts.Batch = in.Shape[0] // the file fixes its batch; the last one is padded
	}
	if e, ok := ops.Extent([]int{opts.Batch, ch, h, w}); !ok || e > m.inputLimit() {
		if !ok {
			e = -1
		}
		return nil, fmt.Errorf("input %q of shape %v: %w", in.Name, []int{opts.Batch, ch, h, w}, errLimit("it", e, m.inputLimit()))
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxListed <= 0 {
		opts.MaxListed = 50
	}
	outputs, withAux, err := mapOutputs(m, net, opts.Outputs)
	if err != nil {
		return nil, err
	}
	rep := &FolderReport{Root: f.Root, Preprocess: opts.Spec.String(), Outputs: outputs, Pass: true}
	logits := -1
	for i, o := range rep.Outputs {
		if o.Reference == "logits" {
			logits = i
			break
		}
	}
	classOf, err := folderClasses(f, opts.Labels, net.Classes, rep)
	if err != nil {
		return nil, err
	}
	var acc *Accuracy
	if classOf != nil {
		acc = &Accuracy{perClassOnnx: make([]int, len(f.Classes)), perClassRef: make([]int, len(f.Classes)), perClassImages: make([]int, len(f.Classes))}
	}

	size := ch * h * w
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type decoded struct {
		item int
		data []float32
		err  error
	}
	// free holds the image buffers: decoders wait for one, so at most
	// cap(free) decoded images exist at once
	free := make(chan []float32, opts.Workers+opts.Batch)
	for i := 0; i < cap(free); i++ {
		free <- make([]float32, size)
	}
	items := make(chan int)
	results := make(chan decoded, opts.Workers)
	go func() {
		defer close(items)
		for i := range f.Items {
			select {
			case items <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for k := 0; k < opts.Workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range items {
				var buf []float32
				select {
				case buf = <-free:
				case <-ctx.Done():
					return
				}
				err := opts.Spec.Load(f.Items[i].Path, ch, opts.MaxPixels, buf)
				select {
				case results <- decoded{i, buf, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	batch := make([]float32, opts.Batch*size)
	rows := make([]int, 0, opts.Batch)
	run := func() error {
		n := len(rows)
		if n == 0 {
			return nil
		}
		runN := n
		if fixed := in.Shape[0]; fixed > 0 {
			runN = fixed
			clear(batch[n*size:])
		}
		// a file that takes uint8 pixels is fed the images' pixels, the
		// reference their normalisation as the file records it
		b, err := fd.fromImages(Batch{N: runN, H: h, W: w, C: ch, Data: batch[:runN*size]}, opts.Spec.Mean, opts.Spec.Std)
		if err != nil {
			return err
		}
		ref, err := net.Forward(b.Data, runN, h, w, withAux)
		if err != nil {
			return fmt.Errorf("reference forward pass: %w", err)
		}
		// the context is looked at between batches: a run under a context
		// keeps the batch whole, and a batch's run takes a fraction of a second
		if err := ctx.Err(); err != nil {
			return err
		}
		got, err := m.Run(map[string]*Value{in.Name: inputValue(b, net)})
		if err != nil {
			return fmt.Errorf("interpreter: %w", err)
		}
		classes := net.Classes
		pairs, err := compareBatch(rep.Outputs, got, ref, net, n, withAux, opts.Errors)
		if err != nil {
			return err
		}
		var onnxLogits, refLogits []float32
		if logits >= 0 {
			onnxLogits, refLogits = pairs[logits][0], pairs[logits][1]
		}
		if onnxLogits != nil {
			for r, item := range rows {
				g, wv := onnxLogits[r*classes:(r+1)*classes], refLogits[r*classes:(r+1)*classes]
				tg, tw := topK(g, min(5, classes)), topK(wv, min(5, classes))
				label := -1
				if classOf != nil {
					label = classOf[f.Items[item].Class]
					acc.count(f.Items[item].Class, label, tg, tw)
				}
				if tg[0] != tw[0] {
					rep.Disagreeing++
					rep.Disagreements = append(rep.Disagreements, Disagreement{File: f.Items[item].Path, Class: label, ONNX: tg, Reference: tw, index: item})
				}
			}
			if len(rep.Disagreements) > 2*opts.MaxListed {
				rep.Disagreements = firstDisagreements(rep.Disagreements, opts.MaxListed)
			}
		}
		rep.Images += n
		if opts.Progress != nil {
			opts.Progress(rep.Images, len(f.Items))
		}
		rows = rows[:0]
		return nil
	}
	for r := range results {
		if r.err != nil {
			cancel()
			return nil, fmt.Errorf("%s: %w", f.Items[r.item].Path, r.err)
		}
		copy(batch[len(rows)*size:], r.data)
		free <- r.data
		rows = append(rows, r.item)
		if len(rows) == opts.Batch {
			if err := run(); err != nil {
				cancel()
				return nil, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := run(); err != nil {
		return nil, err
	}
	if opts.ATol == 0 && opts.RTol == 0 {
		opts.ATol, opts.RTol = DefaultTolerances(m)
	}
	for i := range rep.Outputs {
		o := &rep.Outputs[i]
		o.finish(opts.ATol, opts.RTol)
		rep.Pass = rep.Pass && o.Pass
	}
	rep.Disagreements = firstDisagreements(rep.Disagreements, opts.MaxListed)
	if acc != nil {
		rep.Accuracy = acc.finish()
		for c, name := range f.Classes {
			cs := ClassScore{Class: classOf[c], Folder: name, Images: acc.perClassImages[c],
				ONNXCorrect: acc.perClassOnnx[c], ReferenceCorrect: acc.perClassRef[c]}
			if classOf[c] < len(opts.Labels) {
				cs.Name = opts.Labels[classOf[c]]
			}
			if cs.Images > 0 {
				cs.ONNX = float64(acc.perClassOnnx[c]) / float64(cs.Images)
				cs.Reference = float64(acc.perClassRef[c]) / float64(cs.Images)
			}
			rep.Classes = append(rep.Classes, cs)
		}
	}
	return rep, nil
}

// folderClasses is the network class of each of the folder's classes,
// nil when the folder has none.
func folderClasses(f *imageprep.Folder, labels []string, classes int, rep *FolderReport) ([]int, error) {
	if len(f.Classes) == 0 {
		return nil, nil
	}
	if len(labels) > 0 {
		index := make(map[string]int, len(labels))
		for i, l := range labels {
			if _, dup := index[l]; !dup {
				index[l] = i
			}
		}
		byName := make([]int, len(f.Classes))
		for i, c := range f.Classes {
			k, ok := index[c]
			if !ok {
				byName = nil
				break
			}
			byName[i] = k
		}
		if byName != nil {
			rep.Labelled = "by sub-folder name"
			return byName, nil
		}
	}
	if len(f.Classes) > classes {
		return nil, fmt.Errorf("%d class sub-folders for a network of %d classes (sub-folder i holds class i, in sorted order, as ImageFolder numbers them)", len(f.Classes), classes)
	}
	rep.Labelled = "by sub-folder order"
	byOrder := make([]int, len(f.Classes))
	for i := range byOrder {
		byOrder[i] = i
	}
	return byOrder, nil
}

func (a *Accuracy) count(folderClass, label int, onnx, ref []int) {
	a.Images++
	a.perClassImages[folderClass]++
	if onnx[0] == label {
		a.onnx1++
		a.perClassOnnx[folderClass]++
	}
	if ref[0] == label {
		a.ref1++
		a.perClassRef[folderClass]++
	}
	if contains(onnx, label) {
		a.onnx5++
	}
	if contains(ref, label) {
		a.ref5++
	}
}

func (a *Accuracy) finish() *Accuracy {
	if a.Images > 0 {
		n := float64(a.Images)
		a.ONNXTop1, a.ONNXTop5 = float64(a.onnx1)/n, float64(a.onnx5)/n
		a.ReferenceTop1, a.ReferenceTop5 = float64(a.ref1)/n, float64(a.ref5)/n
	}
	return a
}

func contains(v []int, x int) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

// firstDisagreements keeps the max earliest in folder order: the same
// list whatever order the decoders finished in.
func firstDisagreements(d []Disagreement, max int) []Disagreement {
	sort.Slice(d, func(i, j int) bool { return d[i].index < d[j].index })
	if len(d) > max {
		d = d[:max]
	}
	return d
}

// absDiff is |a − b|, +Inf where either is NaN: an error that no bound
// accepts.
func absDiff(a, b float32) float64 {
	d := float64(a) - float64(b)
	if d != d {
		return math.Inf(1)
	}
	if d < 0 {
		return -d
	}
	return d
}

// ImageFeed is how a file takes images, for running it without weights
// (gnconv predict): an NCHW float batch, or uint8 pixels that the file
// normalises itself.
type ImageFeed struct {
	fd         *feed
	Channels   int
	Height     int // -1 when the file leaves it open
	Width      int
	PixelInput bool
}

// NewImageFeed reads how the file's one input takes images.
func NewImageFeed(m *Model) (*ImageFeed, error) {
	if len(m.Inputs) != 1 || len(m.Inputs[0].Shape) != 4 {
		return nil, fmt.Errorf("the file's inputs %v are not one image batch", m.Inputs)
	}
	s := m.Inputs[0].Shape
	ch := s[1]
	if layout, _ := m.Metadata(preprocess.KeyInputLayout); m.Inputs[0].Elem == onnxpb.TensorProto_UINT8 && layout != preprocess.NCHW {
		ch = s[3]
	}
	if ch <= 0 {
		return nil, fmt.Errorf("the file's input %v leaves its channels open", s)
	}
	fd, err := newFeed(m, ch)
	if err != nil {
		return nil, err
	}
	return &ImageFeed{fd: fd, Channels: ch, Height: fd.h, Width: fd.w, PixelInput: fd.pixels != nil}, nil
}

// Value is the file's input for a batch of images preprocessed as spec
// says (LoadImages): the batch, or its pixels for a uint8 input.
func (f *ImageFeed) Value(b Batch, spec imageprep.Spec) (*Value, error) {
	b.C = f.Channels
	b, err := f.fd.fromImages(b, spec.Mean, spec.Std)
	if err != nil {
		return nil, err
	}
	return inputValue(b, nil), nil
}
