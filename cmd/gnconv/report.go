package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/gnconv/gnconv/internal/atomicfile"
	"github.com/gnconv/gnconv/internal/kernels"
	"github.com/gnconv/gnconv/verify/htmlreport"
	"github.com/urfave/cli/v2"
)

// writeReport writes verify --report: the report as one HTML file. A
// report is rewritten run after run, so an existing file is replaced,
// but never the model or the checkpoint being verified.
func writeReport(c *cli.Context, path string, r *verifyReport, hist *htmlreport.Histogram) error {
	if namesAnInput(c, path) {
		return fmt.Errorf("--report %s is the file being verified: the report goes to a file of its own", clean(path))
	}
	d := reportData(c, r, hist)
	return atomicfile.Write(path, true, func(w io.Writer) error { return htmlreport.Render(w, d) })
}

// namesAnInput reports whether path is the command's file argument or its
// --weights checkpoint: an output written there would replace what it
// reads.
func namesAnInput(c *cli.Context, path string) bool {
	for _, in := range []string{c.Args().First(), c.String("weights")} {
		if atomicfile.SameFile(in, path) {
			return true
		}
	}
	return false
}

// reportData fills the page from the report.
func reportData(c *cli.Context, r *verifyReport, hist *htmlreport.Histogram) *htmlreport.Data {
	d := &htmlreport.Data{Model: c.Args().First(), Weights: c.String("weights"), Pass: r.Pass,
		Settings: htmlreport.Settings{ATol: r.atol, RTol: r.rtol, Kernel: kernelText(), Opset: r.Opset}}
	var inputs []string
	if random := r.Batches - boolInt(len(r.Images) > 0); random > 0 {
		inputs = append(inputs, fmt.Sprintf("%d random %s of %d (seed %d)", random, plural(random, "batch", "batches"), r.Shape[0], c.Int64("seed")))
	}
	if n := len(r.Images); n > 0 {
		inputs = append(inputs, fmt.Sprintf("%d %s", n, plural(n, "image", "images")))
	}
	outputs := r.Outputs
	if r.Batches > 0 {
		d.ErrorsOf = fmt.Sprintf("every output value of %d %s", r.Batches, plural(r.Batches, "batch", "batches"))
	}
	if f := r.Folder; f != nil {
		inputs = append(inputs, fmt.Sprintf("%d images under %s", f.Images, f.Root))
		d.Settings.Preprocessing = f.Preprocess
		d.Settings.Images = f.Images
		outputs = f.Outputs
		d.ErrorsOf = fmt.Sprintf("every output value on %d images", f.Images)
		if r.Batches > 0 {
			d.ErrorsOf = fmt.Sprintf("every output value of %d %s and of %d images", r.Batches, plural(r.Batches, "batch", "batches"), f.Images)
		}
		if a := f.Accuracy; a != nil {
			d.Settings.Other = append(d.Settings.Other,
				htmlreport.Field{Name: "classes", Value: f.Labelled},
				htmlreport.Field{Name: "accuracy", Value: fmt.Sprintf("file top-1 %.2f%%, top-5 %.2f%%; reference top-1 %.2f%%, top-5 %.2f%%",
					100*a.ONNXTop1, 100*a.ONNXTop5, 100*a.ReferenceTop1, 100*a.ReferenceTop5)})
			for _, cs := range f.Classes {
				d.Classes = append(d.Classes, htmlreport.Class{Index: cs.Class, Name: nameOf(cs.Class, r.names, cs.Folder), Images: cs.Images,
					ReferenceCorrect: cs.ReferenceCorrect, ONNXCorrect: cs.ONNXCorrect})
			}
		}
		for _, dis := range f.Disagreements {
			d.Disagreements = append(d.Disagreements, htmlreport.Disagreement{File: dis.File, Reference: dis.Reference[0], ONNX: dis.ONNX[0],
				ReferenceName: nameOf(dis.Reference[0], r.names, ""), ONNXName: nameOf(dis.ONNX[0], r.names, "")})
		}
		d.DisagreementsTotal = f.Disagreeing
	}
	d.Settings.Input = strings.Join(inputs, ", ")
	for _, o := range outputs {
		d.Outputs = append(d.Outputs, htmlreport.Output{Name: o.Name, Reference: o.Reference, MaxAbs: o.MaxAbs, Bound: o.Bound,
			MaxRel: o.MaxRel, Cosine: o.Cosine, Top1: o.Top1, Top5: o.Top5, Pass: o.Pass, Detail: o.Shape})
		d.TopK = append(d.TopK, htmlreport.TopK{Output: o.Name, Points: []htmlreport.KShare{{K: 1, Share: o.Top1}, {K: 5, Share: o.Top5}}})
	}
	if hist != nil {
		d.Errors = *hist
	}
	d.Checks = append(d.Checks, htmlreport.Check{Name: "structure read by onnx-go", Pass: r.Structure.Pass, Detail: r.Structure.Detail})
	if q := r.Quantized; q != nil {
		detail := quantizedSummary(q)
		if len(q.Failures) > 0 {
			detail += ": " + strings.Join(q.Failures, "; ")
		}
		d.Checks = append(d.Checks, htmlreport.Check{Name: "quantized weights against the checkpoint", Pass: q.Pass, Detail: detail})
	}
	if e := r.Expect; e != nil {
		d.Checks = append(d.Checks, htmlreport.Check{Name: "PyTorch's recorded outputs", Pass: e.Pass, Detail: e.Failure()})
	}
	if lr := r.Layers; lr != nil {
		l := &htmlreport.Layers{Batch: lr.Batch, First: lr.First, FirstMaxAbs: lr.FirstMaxAbs, Error: lr.Error}
		for _, row := range lr.Layers {
			l.Rows = append(l.Rows, htmlreport.Layer{Module: row.Module, Value: row.Value, Shape: row.Shape, MaxAbs: row.MaxAbs,
				MaxRel: row.MaxRel, Cosine: row.Cosine, Bound: row.Bound, Compared: row.Compared, Pass: row.Pass, Detail: row.Detail})
		}
		d.Layers = l
	}
	if !r.Pass {
		d.Verdict = strings.Join(failures(r), "; ")
	}
	return d
}

func nameOf(class int, names []string, fallback string) string {
	if class >= 0 && class < len(names) {
		return names[class]
	}
	return fallback
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// kernelText names the micro-kernel in use and how 3x3 convolutions run.
func kernelText() string {
	if name := kernels.WinogradName(); name != "" {
		return kernels.KernelName() + ", 3x3 convolutions as " + name
	}
	return kernels.KernelName()
}
