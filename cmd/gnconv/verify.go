package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/mapfile"
	"github.com/gnconv/gnconv/verify"
	"github.com/urfave/cli/v2"
)

type verifyReport = verify.Report

// verifyFlags are verify's input and tolerance flags; import shares them
// but has a --batch of its own (the file's batch, which verify then uses).
func verifyFlags(withBatch bool) []cli.Flag {
	fs := []cli.Flag{
		&cli.IntFlag{Name: "inputs", Value: 1, Usage: "number of random input batches (standard normal)"},
		&cli.Int64Flag{Name: "seed", Value: 0, Usage: "seed of the random inputs"},
		&cli.StringFlag{Name: "image", Usage: "comma-separated JPEG or PNG files to run as one more batch (resized, centre-cropped, ImageNet-normalised)"},
		&cli.Float64Flag{Name: "atol", Value: verify.DefaultATol, Usage: "absolute tolerance: an output passes when max abs error <= atol + rtol * max |reference|"},
		&cli.Float64Flag{Name: "rtol", Value: verify.DefaultRTol, Usage: "relative tolerance (see --atol)"},
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
	)
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
				return fail(err)
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
func verifyFile(c *cli.Context, path string, l *loaded) (*verify.Report, error) {
	data, err := mapfile.ReadFile(path)
	if err != nil {
		return nil, fail(err)
	}
	opts := verify.Options{Inputs: c.Int("inputs"), Seed: c.Int64("seed"), Batch: c.Int("batch"),
		ATol: c.Float64("atol"), RTol: c.Float64("rtol")}
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
	if s := c.String("expect"); s != "" {
		ck, err := convert.ReadCheckpoint(s)
		if err != nil {
			return nil, fail(fmt.Errorf("--expect: %w", err))
		}
		if opts.Expect, err = verify.ExpectedFrom(ck.StateDict); err != nil {
			return nil, fail(fmt.Errorf("--expect %s: %w", s, err))
		}
	}
	rep, err := verify.Run(data, l.net, opts)
	var se *verify.ShapeError
	if errors.As(err, &se) {
		return nil, &exitErr{exitMismatch, fmt.Errorf("%s does not compute the weights' network: %s", path, se.Detail)}
	}
	if err != nil {
		return nil, fail(fmt.Errorf("%s: %w", path, err))
	}
	if !rep.Pass {
		var bad []string
		for _, o := range rep.Outputs {
			if !o.Pass {
				bad = append(bad, fmt.Sprintf("%s (max abs error %.3g > %.3g)", o.Name, o.MaxAbs, o.Bound))
			}
		}
		if !rep.Structure.Pass {
			bad = append(bad, "structure: "+rep.Structure.Detail)
		}
		if rep.Expect != nil && !rep.Expect.Pass {
			bad = append(bad, rep.Expect.Failure())
		}
		msg := fmt.Sprintf("%s does not compute the weights' network: %s", path, strings.Join(bad, "; "))
		if hint := metadataHint(data, l); hint != "" {
			msg += "\n" + hint
		}
		return rep, &exitErr{exitMismatch, errors.New(msg)}
	}
	return rep, nil
}

func printVerify(w io.Writer, r *verify.Report) {
	fmt.Fprintf(w, "verify: opset %d, input %s %v, %d batch(es)\n", r.Opset, r.Input, r.Shape, r.Batches)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OUTPUT\tREFERENCE\tMAX ABS\tBOUND\tMAX REL\tCOSINE\tTOP-1\tTOP-5\tRESULT")
	for _, o := range r.Outputs {
		ref := o.Reference
		if o.Softmax {
			ref += "+softmax"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3g\t%.3g\t%.3g\t%.7f\t%.0f%%\t%.0f%%\t%s\n", o.Name, ref, o.MaxAbs, o.Bound, o.MaxRel, o.Cosine, 100*o.Top1, 100*o.Top5, passFail(o.Pass))
	}
	tw.Flush()
	s := r.Structure
	fmt.Fprintf(w, "structure: %d nodes, %d initializers; onnx-go reads %d nodes, %d initializers, inputs %v, outputs %v: %s\n",
		s.Nodes, s.Initializers, s.OnnxGo.Nodes, s.OnnxGo.Initializers, s.OnnxGo.Inputs, s.OnnxGo.Outputs, passFail(s.Pass))
	if s.Detail != "" {
		fmt.Fprintf(w, "  %s\n", s.Detail)
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
					fmt.Fprintf(tw, "%s\t%s\tshape %s\t\t\t\t\t%s\n", c.Name, x.who, x.o.Shape, passFail(x.o.Pass))
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%.3g\t%.3g\t%.3g\t%.7f\t%.0f%%\t%s\n", c.Name, x.who, x.o.MaxAbs, x.o.Bound, x.o.MaxRel, x.o.Cosine, 100*x.o.Top1, passFail(x.o.Pass))
			}
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "result: %s\n", passFail(r.Pass))
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
				hints = append(hints, fmt.Sprintf("the file was written with transform_input=%s, the weights were loaded with transform_input=%s (--transform-input)", p.GetValue(), want))
			}
		case "layout":
			if p.GetValue() != l.net.Layout.String() {
				hints = append(hints, fmt.Sprintf("the file holds the %s layout, the weights the %s layout", p.GetValue(), l.net.Layout))
			}
		}
	}
	return strings.Join(hints, "\n")
}
