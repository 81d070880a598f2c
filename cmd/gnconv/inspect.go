package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/tensor"
	"github.com/urfave/cli/v2"
)

type inspectTensor struct {
	Name     string `json:"name"`
	DType    string `json:"dtype"`
	Shape    []int  `json:"shape"`
	Elements int    `json:"elements"`
}

type inspectGoogLeNet struct {
	OK             bool             `json:"ok"`
	Error          string           `json:"error,omitempty"`
	Layout         string           `json:"layout"`
	LayoutEvidence string           `json:"layout_evidence"`
	Classes        int              `json:"classes"`
	AuxHeads       bool             `json:"aux_heads"`
	Strict         bool             `json:"strict"`
	Loaded         int              `json:"loaded"`
	Missing        []string         `json:"missing"`
	Unexpected     []string         `json:"unexpected"`
	Mismatched     []graph.Mismatch `json:"mismatched"`
	NonFinite      []string         `json:"non_finite"`
	InChannels     int              `json:"input_channels,omitempty"`
	InputSize      []int            `json:"input_size,omitempty"`
	// MinInputSize is the smallest input the network without its aux
	// heads takes (import --size dynamic admits it and up).
	MinInputSize []int             `json:"min_input_size,omitempty"`
	Assumed      []string          `json:"assumed"`
	WholeModel   bool              `json:"whole_model"`
	FromModel    []string          `json:"from_model"`
	Warnings     []string          `json:"warnings"`
	report       *graph.LoadReport `json:"-"`
	errText      string            // Error for people: lists cut short, names escaped
}

type inspectResult struct {
	File       string           `json:"file"`
	Format     string           `json:"format"`
	ByteOrder  string           `json:"byteorder"`
	WrapperKey string           `json:"wrapper_key"`
	Prefix     string           `json:"prefix"`
	Tensors    []inspectTensor  `json:"tensors"`
	Count      int              `json:"tensor_count"`
	Parameters int              `json:"parameters"`
	Bytes      int              `json:"bytes"`
	GoogLeNet  inspectGoogLeNet `json:"googlenet"`
	// Modules is a whole pickled model's module tree.
	Modules []inspectModule `json:"modules,omitempty"`
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show what a checkpoint holds and how it binds to GoogLeNet",
		ArgsUsage: "model.pth",
		Flags: append(loadFlags(),
			&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fail(fmt.Errorf("inspect takes one checkpoint file, got %d arguments", c.NArg()))
			}
			opts, err := loadOptions(c, graph.AuxAuto)
			if err != nil {
				return fail(err)
			}
			ck, err := readCheckpoint(c.Args().First(), false)
			if err != nil {
				return fail(err)
			}
			res := inspect(ck, opts)
			if c.Bool("json") {
				return writeJSON(c.App.Writer, res)
			}
			printInspect(c.App.Writer, res)
			return nil
		},
	}
}

func inspect(ck *convert.Checkpoint, opts graph.Options) *inspectResult {
	res := &inspectResult{File: ck.Path, Format: ck.Format, ByteOrder: ck.ByteOrder, WrapperKey: ck.WrapperKey, Prefix: ck.Prefix}
	sd := ck.StateDict
	for _, n := range sd.Names {
		t := sd.Tensors[n]
		res.Tensors = append(res.Tensors, inspectTensor{n, t.DType.String(), t.Shape, t.Numel()})
		res.Parameters += t.Numel()
		res.Bytes += len(t.Raw)
	}
	res.Count = len(sd.Names)
	opts.Model = ck.GraphModel()
	net, rep, err := graph.Load(sd, opts)
	res.GoogLeNet = binding(net, rep, err, ck)
	if ck.Model != nil {
		res.Modules = moduleTree(ck.Model)
	}
	return res
}

// binding is what inspect and the --json output of a failed load say of
// a checkpoint's binding to GoogLeNet.
func binding(net *graph.Net, rep *graph.LoadReport, err error, ck *convert.Checkpoint) inspectGoogLeNet {
	var g inspectGoogLeNet
	g.OK = err == nil
	if err != nil {
		g.Error = err.Error()
		g.errText = loadErrorMessage(err, ck)
	}
	if rep == nil {
		rep = &graph.LoadReport{}
	}
	g.report = rep
	g.Layout, g.LayoutEvidence = rep.Layout.String(), rep.LayoutEvidence
	g.Classes, g.AuxHeads, g.Strict, g.Loaded = rep.Classes, rep.AuxInFile, rep.Strict, rep.Loaded
	g.Missing, g.Unexpected, g.Mismatched, g.NonFinite = rep.Missing, rep.Unexpected, rep.Mismatched, rep.NonFinite
	g.Assumed, g.Warnings, g.FromModel, g.WholeModel = rep.Assumed, rep.Warnings, rep.FromModel, ck.Net() != nil
	if net != nil {
		g.InChannels, g.InputSize = net.InChannels, net.Size[:]
		mh, mw := convert.MinInputSize(net)
		g.MinInputSize = []int{mh, mw}
	}
	return g
}

func printInspect(w io.Writer, r *inspectResult) {
	fmt.Fprintf(w, "file       %s\n", clean(r.File))
	fmt.Fprintf(w, "format     %s, %s-endian\n", clean(r.Format), clean(r.ByteOrder))
	if r.WrapperKey != "" {
		fmt.Fprintf(w, "wrapper    state dict found under key \"%s\"\n", clean(r.WrapperKey))
	}
	if r.Prefix != "" {
		fmt.Fprintf(w, "prefix     \"%s\" removed from every key\n", clean(r.Prefix))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDTYPE\tSHAPE\tELEMENTS")
	for _, t := range r.Tensors {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", clean(t.Name), clean(t.DType), tensor.ShapeString(t.Shape), t.Elements)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntensors %d, parameters %d, bytes %d (%s)\n\n", r.Count, r.Parameters, r.Bytes, humanBytes(int64(r.Bytes)))
	g := r.GoogLeNet
	names := make([]string, len(r.Tensors))
	for i, t := range r.Tensors {
		names[i] = t.Name
	}
	fmt.Fprintln(w, "GoogLeNet")
	fmt.Fprintf(w, "  layout     %s (%s)\n", clean(g.Layout), scrubNames(g.LayoutEvidence, names))
	fmt.Fprintf(w, "  classes    %d\n", g.Classes)
	if g.InChannels > 0 {
		fmt.Fprintf(w, "  input      %d channels, %dx%d (the layout's size)", g.InChannels, g.InputSize[0], g.InputSize[1])
		if len(g.MinInputSize) == 2 {
			fmt.Fprintf(w, "; %dx%d at the smallest, without aux heads", g.MinInputSize[0], g.MinInputSize[1])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  aux heads  %s\n", yesNo(g.AuxHeads))
	mode := "strict"
	if !g.Strict {
		mode = "non-strict"
	}
	if g.OK {
		fmt.Fprintf(w, "  load       %s: ok, %d tensors bound", mode, g.Loaded)
		if n := len(g.report.Ignored); n > 0 {
			fmt.Fprintf(w, ", %d num_batches_tracked ignored", n)
		}
		fmt.Fprintln(w)
		if len(g.Missing) > 0 {
			fmt.Fprintf(w, "  missing    %s\n", shortList(g.Missing))
		}
		if len(g.Unexpected) > 0 {
			fmt.Fprintf(w, "  unexpected %s\n", shortList(g.Unexpected))
		}
	} else {
		fmt.Fprintf(w, "  load       %s: FAILED\n%s\n", mode, indent(g.errText, "    "))
	}
	if len(g.NonFinite) > 0 {
		fmt.Fprintf(w, "  NaN/Inf    %s\n", shortList(g.NonFinite))
	}
	if g.WholeModel {
		fmt.Fprintf(w, "  model      a whole pickled model: its modules' hyperparameters are used\n")
	}
	for _, f := range g.FromModel {
		fmt.Fprintf(w, "  from file  %s\n", scrubNames(f, names))
	}
	for i, a := range g.Assumed {
		label := "  assumed    "
		if i > 0 {
			label = "             "
		}
		fmt.Fprintf(w, "%s%s\n", label, scrubNames(a, names))
	}
	for _, x := range g.Warnings {
		fmt.Fprintf(w, "  warning    %s\n", scrubNames(x, names))
	}
	if len(r.Modules) > 0 {
		printModuleTree(w, r.Modules)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func indent(s, pre string) string {
	out := pre
	for _, r := range s {
		out += string(r)
		if r == '\n' {
			out += pre
		}
	}
	return out
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
