package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/filekind"
	"github.com/gnconv/gnconv/verify"
	"github.com/gnconv/gnconv/verify/htmlreport"
	"github.com/gnconv/gnconv/verify/imageprep"
	"github.com/urfave/cli/v2"
)

// verifyReport is verify's report with each image's top classes.
type verifyReport struct {
	*verify.Report
	Images []imageTop `json:"images,omitempty"`
	// Folder is verify --images DIR's comparison over a folder.
	Folder *verify.FolderReport `json:"image_folder,omitempty"`

	names      []string // class names, for printing
	atol, rtol float64  // the tolerances in force

	showLayers bool // --layers: print the layer table
}

// imageTop is one --image file's top-5 classes, from the ONNX file and
// from the reference pass, best first.
type imageTop struct {
	File      string       `json:"file"`
	ONNX      []classScore `json:"onnx"`
	Reference []classScore `json:"reference"`
}

type classScore struct {
	Class int     `json:"class"`
	Score float32 `json:"score"`
}

// verifyFlags are verify's input and tolerance flags; import shares them
// but has a --batch of its own (the file's batch, which verify then uses).
func verifyFlags(withBatch bool) []cli.Flag {
	fs := []cli.Flag{
		&cli.IntFlag{Name: "inputs", Value: 1, Usage: "number of random input batches (standard normal)"},
		&cli.Int64Flag{Name: "seed", Value: 0, Usage: "seed of the random inputs"},
		&cli.StringFlag{Name: "image", Usage: "comma-separated image files to run as one more batch (preprocessed as --preprocess says)"},
		&cli.Float64Flag{Name: "atol", Value: verify.DefaultATol, Usage: fmt.Sprintf("absolute tolerance: an output passes when max abs error <= atol + rtol * max |reference| (%g for float16 files)", verify.DefaultATolFloat16)},
		&cli.Float64Flag{Name: "rtol", Value: verify.DefaultRTol, Usage: fmt.Sprintf("relative tolerance, see --atol (%g for float16 files)", verify.DefaultRTolFloat16)},
		&cli.StringFlag{Name: "expect", Usage: "PyTorch's own outputs, torch.save({\"input\": x, \"logits\": model(x)}, \"expect.pt\") (optionally \"aux1\", \"aux2\"): the file and the reference pass are both compared with them (docs/verify.md)"},
	}
	if withBatch {
		fs = append(fs, &cli.IntFlag{Name: "batch", Value: 2, Usage: "batch size of random inputs, when the file leaves it open"})
	} else {
		for _, f := range fs { // import's copy applies with --verify
			switch f := f.(type) {
			case *cli.IntFlag:
				f.Usage = "with --verify: " + f.Usage
			case *cli.Int64Flag:
				f.Usage = "with --verify: " + f.Usage
			case *cli.StringFlag:
				f.Usage = "with --verify: " + f.Usage
			case *cli.Float64Flag:
				f.Usage = "with --verify: " + f.Usage
			}
		}
	}
	return fs
}

func verifyCommand() *cli.Command {
	flags := append(loadFlags(), verifyFlags(true)...)
	flags = append(flags,
		&cli.StringFlag{Name: "weights", Aliases: []string{"w"}, Usage: "the checkpoint the ONNX file should compute (required)"},
		&cli.StringFlag{Name: "outputs", Usage: "what the file's outputs are, in order, for files that name them otherwise: e.g. logits,aux2,aux1"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		&cli.BoolFlag{Name: "layers", Usage: "compare every module's output (stem, Inception units and their branches, pools, aux heads, head) on the first batch, and name the first that diverges"},
		&cli.StringFlag{Name: "images", Usage: "an image folder (ImageFolder-style: one sub-folder per class, or images alone) to run image by image through both, streamed, with top-1/top-5 agreement and, with classes, accuracy"},
		&cli.StringFlag{Name: "report", Usage: "also write the report as one self-contained HTML file (charts of the per-layer error, the error histogram, top-k agreement, per-class accuracy)"},
	)
	flags = append(flags, imageFlags()...)
	return &cli.Command{
		Name:  "verify",
		Usage: "run an ONNX file in gnconv's interpreter and compare it with the reference forward pass of the weights",
		Description: "Exit status: 0 when every output is within tolerance and the file's structure reads the same\n" +
			"with onnx-go's decoder, 1 on a mismatch, 2 on an error.",
		ArgsUsage: "model.onnx --weights model.pth",
		Flags:     flags,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fail(fmt.Errorf("verify takes one ONNX file, got %d arguments", c.NArg()))
			}
			if c.String("weights") == "" {
				return fail(fmt.Errorf("verify needs --weights model.pth"))
			}
			l, err := loadCheckpoint(c, c.String("weights"), graph.AuxAuto)
			if err != nil {
				return loadFailed(c, err)
			}
			rep, err := verifyFile(c, c.Args().First(), l)
			if rep != nil {
				if c.Bool("json") {
					if jerr := writeJSON(c.App.Writer, rep); jerr != nil {
						return fail(jerr)
					}
				} else {
					printVerify(c.App.Writer, rep)
				}
			}
			return err
		},
	}
}

// verifyFile runs the checks and returns the report, with an exitErr of
// status 1 when they fail and 2 when they cannot run.
func verifyFile(c *cli.Context, path string, l *loaded) (*verifyReport, error) {
	k := c.Int64("limit-scale")
	if k < 1 {
		return nil, fail(fmt.Errorf("--limit-scale must be 1 to %d", maxLimitScale))
	}
	limits := verify.Limits{}.Scaled(k)
	data, err := verify.ReadFile(path, limits)
	if err != nil {
		return nil, fail(err)
	}
	p := clean(path)
	opts := verify.Options{Inputs: c.Int("inputs"), Seed: c.Int64("seed"), Batch: c.Int("batch"),
		Limits: limits, Layers: c.Bool("layers")}
	if c.IsSet("atol") || c.IsSet("rtol") {
		// else Run takes the bounds for the file's type (float16's are wider)
		opts.ATol, opts.RTol = c.Float64("atol"), c.Float64("rtol")
	}
	if s := c.String("outputs"); s != "" {
		opts.Outputs = strings.Split(s, ",")
	}
	if s := c.String("image"); s != "" {
		opts.Images = strings.Split(s, ",")
		if !c.IsSet("inputs") {
			opts.Inputs = 0
		}
	}
	if opts.ATol < 0 || opts.RTol < 0 || opts.Inputs < 0 {
		return nil, fail(fmt.Errorf("--atol, --rtol and --inputs must not be negative"))
	}
	if c.IsSet("inputs") && opts.Inputs == 0 {
		opts.Inputs = -1 // none asked for
	}
	folder := c.String("images")
	if folder != "" && !c.IsSet("inputs") && len(opts.Images) == 0 {
		opts.Inputs = -1 // the folder's images are the inputs
	}
	if s := c.String("expect"); s != "" {
		if opts.Expect, err = readExpect(s); err != nil {
			return nil, fail(err)
		}
	}
	m, err := verify.ParseLimits(data, limits)
	if err != nil {
		return nil, readFailed(data, p, err)
	}
	if m.Int8() && folder == "" && len(opts.Images) == 0 {
		// random values go beyond the ranges calibration gave the
		// activations: the saturation they meet is no error of the file
		return nil, fail(fmt.Errorf("%s is quantized (int8): it is verified on images like those it was calibrated on; give --images DIR or --image FILES", p))
	}
	if len(opts.Images) > 0 {
		ch, h, w := inputShape(m, l)
		spec, err := imageSpec(c, ch, h, w)
		if err != nil {
			return nil, fail(err)
		}
		opts.Preprocess = &spec
	}
	var hist *htmlreport.Histogram
	if c.String("report") != "" {
		hist = &htmlreport.Histogram{}
		opts.Errors = hist
	}
	vr, err := verify.Run(data, l.net, opts)
	var se *verify.ShapeError
	if errors.As(err, &se) {
		return nil, &exitErr{exitMismatch, fmt.Errorf("%s does not compute the weights' network: %s", p, cleanLines(se.Detail))}
	}
	if err != nil {
		return nil, readFailed(data, p, err)
	}
	rep := &verifyReport{Report: vr, showLayers: opts.Layers, atol: opts.ATol, rtol: opts.RTol}
	if rep.atol == 0 && rep.rtol == 0 {
		rep.atol, rep.rtol = verify.DefaultTolerances(m)
	}
	if rep.names, err = classNames(c, m, l.net.Classes); err != nil {
		return nil, fail(err)
	}
	if len(opts.Images) > 0 {
		if rep.Images, err = imagesTop(m, l, vr, opts.Images, *opts.Preprocess); err != nil {
			return nil, fail(fmt.Errorf("%s: %w", p, err))
		}
	}
	if folder != "" {
		var run *folderRun
		if run, err = runFolder(c, m, l, rep.names, opts, hist); err != nil {
			var se *verify.ShapeError
			if errors.As(err, &se) {
				return nil, &exitErr{exitMismatch, fmt.Errorf("%s does not compute the weights' network: %s", p, cleanLines(se.Detail))}
			}
			return nil, fail(err)
		}
		rep.Folder = run.report
		rep.Pass = rep.Pass && rep.Folder.Pass
		if !rep.Folder.Pass && rep.Layers == nil {
			rep.Layers = run.layers(m, l, vr, opts)
		}
	}
	if path := c.String("report"); path != "" {
		if err := writeReport(c, path, rep, hist); err != nil {
			return nil, fail(err)
		}
	}
	if !rep.Pass {
		bad := failures(rep)
		for k := range bad {
			bad[k] = cleanLines(bad[k])
		}
		msg := fmt.Sprintf("%s does not compute the weights' network: %s", p, strings.Join(bad, "; "))
		if hint := metadataHint(data, l); hint != "" {
			msg += "\n" + hint
		}
		return rep, &exitErr{exitMismatch, errors.New(msg)}
	}
	return rep, nil
}

// failures says what fails in a report, one phrase each: the outputs
// over their bounds, the structure, the quantized weights, PyTorch's
// recorded outputs and the first diverging module. The phrases hold
// names from the file, unescaped.
func failures(r *verifyReport) []string {
	var bad []string
	for _, o := range r.Outputs {
		if !o.Pass {
			bad = append(bad, fmt.Sprintf("%s (max abs error %.3g > %.3g)", o.Name, o.MaxAbs, o.Bound))
		}
	}
	if f := r.Folder; f != nil {
		for _, o := range f.Outputs {
			if !o.Pass {
				bad = append(bad, fmt.Sprintf("%s on the folder's images (max abs error %.3g > %.3g)", o.Name, o.MaxAbs, o.Bound))
			}
		}
	}
	if !r.Structure.Pass {
		bad = append(bad, "structure: "+r.Structure.Detail)
	}
	if q := r.Quantized; q != nil && !q.Pass {
		bad = append(bad, "quantized weights: "+strings.Join(q.Failures, "; "))
	}
	if r.Expect != nil && !r.Expect.Pass {
		bad = append(bad, r.Expect.Failure())
	}
	if d := r.Layers.Divergence(); d != "" {
		bad = append(bad, d)
	}
	return bad
}

// quantizedSummary is the weight check of an int8 file in a line.
func quantizedSummary(q *verify.QuantCheck) string {
	return fmt.Sprintf("%d weights and %d biases within %.2f of a step of the reference's (at most 0.50), %d quantize-dequantize pairs matched",
		q.Weights, q.Biases, q.Worst, q.Pairs)
}

// readFailed is the error for a file verify cannot run: what the file is,
// when it is another kind of file, else what went wrong.
func readFailed(data []byte, p string, err error) error {
	if k := filekind.Bytes(data); k.Known() && k.Name != "onnx" {
		return fail(fmt.Errorf("%s is %s, not an ONNX model", p, clean(k.Description)))
	}
	return fail(fmt.Errorf("%s: %w", p, err))
}

func printVerify(w io.Writer, r *verifyReport) {
	var inputs []string
	random := r.Batches
	if len(r.Images) > 0 {
		random--
	}
	if random > 0 {
		inputs = append(inputs, fmt.Sprintf("%d random %s of %d", random, plural(random, "batch", "batches"), r.Shape[0]))
	}
	if n := len(r.Images); n > 0 {
		inputs = append(inputs, fmt.Sprintf("%d %s", n, plural(n, "image", "images")))
	}
	if r.Expect != nil {
		inputs = append(inputs, "PyTorch's recorded input")
	}
	if r.Folder != nil {
		inputs = append(inputs, "an image folder (below)")
	}
	if len(inputs) == 0 {
		inputs = append(inputs, "no inputs")
	}
	fmt.Fprintf(w, "verify: opset %d, input %s (%d channels, %dx%d): %s\n", r.Opset, clean(r.Input), r.Shape[1], r.Shape[2], r.Shape[3], strings.Join(inputs, ", "))
	if r.Batches > 0 {
		printOutputs(w, r.Outputs, "%.0f%%")
	}
	if len(r.Images) > 0 {
		fmt.Fprintln(w, "images, top-5 classes (score), best first:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, im := range r.Images {
			fmt.Fprintf(tw, "  %s\tONNX file\t%s\n", clean(im.File), topText(im.ONNX, r.names))
			fmt.Fprintf(tw, "  \treference pass\t%s\n", topText(im.Reference, r.names))
		}
		tw.Flush()
	}
	if r.Folder != nil {
		printFolder(w, r.Folder, r.names)
	}
	if r.showLayers && r.Layers != nil {
		printLayers(w, r.Layers)
	} else if d := r.Layers.Divergence(); d != "" {
		fmt.Fprintf(w, "layers: %s (--layers lists every module)\n", clean(d))
	}
	s := r.Structure
	fmt.Fprintf(w, "structure: %d nodes, %d initializers; onnx-go reads %d nodes, %d initializers, inputs %s, outputs %s: %s\n",
		s.Nodes, s.Initializers, s.OnnxGo.Nodes, s.OnnxGo.Initializers, nameList(s.OnnxGo.Inputs), nameList(s.OnnxGo.Outputs), passFail(s.Pass))
	if s.Detail != "" {
		fmt.Fprintf(w, "  %s\n", cleanLines(s.Detail))
	}
	if q := r.Quantized; q != nil {
		fmt.Fprintf(w, "quantized weights: %s: %s\n", quantizedSummary(q), passFail(q.Pass))
		for _, f := range q.Failures {
			fmt.Fprintf(w, "  %s\n", cleanLines(f))
		}
	}
	if e := r.Expect; e != nil {
		fmt.Fprintf(w, "PyTorch's recorded outputs, input %v:\n", e.Input)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "OUTPUT\tCOMPARED\tMAX ABS\tBOUND\tMAX REL\tCOSINE\tTOP-1\tRESULT")
		for _, c := range e.Checks {
			for _, x := range []struct {
				who string
				o   *verify.OutputReport
			}{{"ONNX file", c.ONNX}, {"reference pass", c.Reference}} {
				if x.o == nil {
					continue
				}
				if x.o.Shape != "" {
					fmt.Fprintf(tw, "%s\t%s\tshape %s\t\t\t\t\t%s\n", clean(c.Name), x.who, clean(x.o.Shape), passFail(x.o.Pass))
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%.3g\t%.3g\t%.3g\t%.7f\t%.0f%%\t%s\n", clean(c.Name), x.who, x.o.MaxAbs, x.o.Bound, x.o.MaxRel, x.o.Cosine, 100*x.o.Top1, passFail(x.o.Pass))
			}
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "result: %s\n", passFail(r.Pass))
}

// printOutputs prints the comparison of each output, top-k shares in
// the percent format given.
func printOutputs(w io.Writer, outs []verify.OutputReport, pct string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OUTPUT\tREFERENCE\tMAX ABS\tBOUND\tMAX REL\tCOSINE\tTOP-1\tTOP-5\tRESULT")
	for _, o := range outs {
		ref := o.Reference
		if o.Softmax {
			ref += "+softmax"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3g\t%.3g\t%.3g\t%.7f\t"+pct+"\t"+pct+"\t%s\n", clean(o.Name), clean(ref), o.MaxAbs, o.Bound, o.MaxRel, o.Cosine, 100*o.Top1, 100*o.Top5, passFail(o.Pass))
	}
	tw.Flush()
}

// printLayers prints the layer-by-layer comparison in network order.
func printLayers(w io.Writer, lr *verify.LayersReport) {
	if lr.Error != "" {
		fmt.Fprintf(w, "layers: could not compare: %s\n", cleanLines(lr.Error))
		return
	}
	fmt.Fprintf(w, "layers, on a batch of shape %v, in network order:\n", lr.Batch)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODULE\tSHAPE\tMAX ABS\tBOUND\tMAX REL\tCOSINE\tRESULT\tFILE VALUE")
	for _, l := range lr.Layers {
		shape := strings.Trim(strings.ReplaceAll(fmt.Sprint(l.Shape), " ", "x"), "[]")
		switch {
		case !l.Compared:
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\tnot mapped\t%s\n", clean(l.Module), shape, clean(l.Detail))
		case l.Detail != "":
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\tFAIL\t%s: %s\n", clean(l.Module), shape, clean(l.Value), clean(l.Detail))
		default:
			fmt.Fprintf(tw, "%s\t%s\t%.3g\t%.3g\t%.3g\t%.7f\t%s\t%s (%s)\n", clean(l.Module), shape, l.MaxAbs, l.Bound, l.MaxRel, l.Cosine, passFail(l.Pass), clean(l.Value), l.MappedBy)
		}
	}
	tw.Flush()
	if len(lr.Unmapped) > 0 {
		fmt.Fprintf(w, "layers: %d %s not found in the file: %s\n", len(lr.Unmapped), plural(len(lr.Unmapped), "module", "modules"), strings.Join(cleanAll(lr.Unmapped), ", "))
	}
	if d := lr.Divergence(); d != "" {
		fmt.Fprintf(w, "layers: %s\n", clean(d))
	} else {
		fmt.Fprintln(w, "layers: every module compared is within its bound")
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// nameList is a list of names from a file, bracketed and escaped.
func nameList(names []string) string { return "[" + strings.Join(cleanAll(names), " ") + "]" }

func topText(top []classScore, names []string) string {
	parts := make([]string, len(top))
	for i, t := range top {
		parts[i] = fmt.Sprintf("%d (%.4g)", t.Class, t.Score)
		if t.Class < len(names) {
			parts[i] = fmt.Sprintf("%d %s (%.4g)", t.Class, clean(names[t.Class]), t.Score)
		}
	}
	return strings.Join(parts, ", ")
}

// imagesTop runs the --image files through the file and the reference
// pass once more and lists each image's top-5 classes from both, from
// the output that computes the logits.
func imagesTop(m *verify.Model, l *loaded, r *verify.Report, paths []string, spec imageprep.Spec) ([]imageTop, error) {
	oi := -1
	for i, o := range r.Outputs {
		if o.Reference == "logits" {
			oi = i
			break
		}
	}
	if oi < 0 {
		return nil, nil // no output computes the logits
	}
	ch, h, w := r.Shape[1], r.Shape[2], r.Shape[3]
	imgs, err := verify.LoadImages(paths, spec, ch, h, w)
	if err != nil {
		return nil, err
	}
	got, err := m.Run(map[string]*verify.Value{r.Input: {Shape: []int{imgs.N, ch, h, w}, F: imgs.Data}})
	if err != nil {
		return nil, fmt.Errorf("interpreter: %w", err)
	}
	ref, err := l.net.Forward(imgs.Data, imgs.N, h, w, false)
	if err != nil {
		return nil, fmt.Errorf("reference forward pass: %w", err)
	}
	classes := l.net.Classes
	want := ref[0].Data
	if r.Outputs[oi].Softmax {
		want = verify.SoftmaxRows(want, classes)
	}
	if oi >= len(got) || len(got[oi].F) != imgs.N*classes || len(want) != imgs.N*classes {
		return nil, fmt.Errorf("the logits of %d images are not %d×%d values", imgs.N, imgs.N, classes)
	}
	out := make([]imageTop, imgs.N)
	for i := range out {
		out[i] = imageTop{File: paths[i],
			ONNX:      top5(got[oi].F[i*classes : (i+1)*classes]),
			Reference: top5(want[i*classes : (i+1)*classes])}
	}
	return out, nil
}

// top5 is the five highest scores with their classes, best first (the
// lower class first among equals).
func top5(v []float32) []classScore { return topN(v, 5) }

// topN is the n highest scores with their classes, best first.
func topN(v []float32, n int) []classScore {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] > v[idx[b]] })
	out := make([]classScore, min(n, len(v)))
	for i := range out {
		out[i] = classScore{idx[i], v[idx[i]]}
	}
	return out
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// metadataHint compares what a gnconv-made file records about its network
// (metadata_props) with the flags the weights were loaded with.
func metadataHint(data []byte, l *loaded) string {
	m, err := verify.Parse(data)
	if err != nil {
		return ""
	}
	var hints []string
	for _, p := range m.Proto.GetMetadataProps() {
		switch p.GetKey() {
		case "transform_input":
			if want := fmt.Sprint(l.net.TransformInput); p.GetValue() != want {
				hints = append(hints, fmt.Sprintf("the file was written with transform_input=%s, the weights were loaded with transform_input=%s (--transform-input)", clean(p.GetValue()), want))
			}
		case "layout":
			if p.GetValue() != l.net.Layout.String() {
				hints = append(hints, fmt.Sprintf("the file holds the %s layout, the weights the %s layout (--layout)", clean(p.GetValue()), clean(l.net.Layout.String())))
			}
		case "lrn":
			if want := fmt.Sprint(l.net.Switches.LRN); p.GetValue() != want {
				hints = append(hints, fmt.Sprintf("the file was written with lrn=%s, the weights were loaded with lrn=%s (--lrn)", clean(p.GetValue()), want))
			}
		case "input_channels":
			if want := fmt.Sprint(l.net.InChannels); p.GetValue() != want {
				hints = append(hints, fmt.Sprintf("the file takes %s input channels, the weights %s", clean(p.GetValue()), want))
			}
		}
	}
	return strings.Join(hints, "\n")
}

// readExpect reads an expect file (--expect) as the checkpoints are read:
// bounded, non-regular files refused, names from the file escaped.
func readExpect(path string) (*verify.Expected, error) {
	ck, err := readCheckpoint(path, false)
	if err != nil {
		return nil, fmt.Errorf("--expect: %w", err)
	}
	e, err := verify.ExpectedFrom(ck.StateDict)
	if err != nil {
		return nil, fmt.Errorf("--expect %s: %s", clean(path), scrubNames(err.Error(), ck.StateDict.Names))
	}
	return e, nil
}
