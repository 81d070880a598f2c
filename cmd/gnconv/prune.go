package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/atomicfile"
	"github.com/gnconv/gnconv/internal/filekind"
	"github.com/gnconv/gnconv/internal/onnxpb"
	"github.com/gnconv/gnconv/tensor"
	"github.com/gnconv/gnconv/verify"
	"github.com/urfave/cli/v2"
	"google.golang.org/protobuf/proto"
)

type pruneSummary struct {
	Input             string   `json:"input"`
	Output            string   `json:"output"`
	Format            string   `json:"format"`
	Removed           []string `json:"removed"`
	RemovedParameters int      `json:"removed_parameters"`
	BytesSaved        int      `json:"bytes_saved"`
	KeptKeys          int      `json:"kept_keys"`
	KeptParameters    int      `json:"kept_parameters"`
	KeptBytes         int      `json:"kept_bytes"`
	RemovedNodes      int      `json:"removed_nodes,omitempty"`
	RemovedInits      int      `json:"removed_initializers,omitempty"`
	WrapperKept       bool     `json:"wrapper_kept"`
}

func pruneAuxCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune-aux",
		Usage: "drop the aux heads: a deploy checkpoint that PyTorch loads with strict=True, or an ONNX file with logits only",
		Description: "For a checkpoint, the aux1.* and aux2.* entries are removed and the rest is written as a plain\n" +
			"state dict (torch's zip format), in file order, each tensor in its own dtype, bit for bit. It loads\n" +
			"with load_state_dict(strict=True) into the network built with aux_logits=False.\n" +
			"With --format safetensors (the default for a .safetensors input or output) the state dict is written\n" +
			"as a safetensors file instead, laid out as the safetensors library writes it.\n" +
			"For an ONNX file, the aux1 and aux2 outputs and everything only they used are removed.",
		ArgsUsage: "train.pth|train.safetensors|model.onnx",
		Flags: append(loadFlags(),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "file to write (default: the input name with _deploy)"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite an existing output file"},
			&cli.BoolFlag{Name: "keep-wrapper", Usage: "write a wrapping training dict back with only its state dict pruned"},
			&cli.StringFlag{Name: "format", Usage: "for a checkpoint, what to write: pth (torch.save's zip format) or safetensors (default: safetensors when the output or the input is a .safetensors file, else pth)"},
			&cli.StringFlag{Name: "outputs", Usage: "for an ONNX file whose outputs are not named logits, aux1 and aux2: what they are, in order (e.g. logits,aux2,aux1); the aux ones are removed"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON summary"},
		),
		Action: runPruneAux,
	}
}

func runPruneAux(c *cli.Context) error {
	if c.NArg() != 1 {
		return fail(fmt.Errorf("prune-aux takes one file, got %d arguments", c.NArg()))
	}
	in := c.Args().First()
	ext := filepath.Ext(in)
	out := c.String("output")
	format, err := checkpointFormat(c, in, out)
	if err != nil {
		return fail(err)
	}
	if out == "" {
		switch {
		case format == "safetensors" && !strings.EqualFold(ext, ".safetensors"):
			ext = ".safetensors"
		case format == "pth" && strings.EqualFold(ext, ".safetensors"):
			ext = ".pth"
		}
		out = strings.TrimSuffix(in, filepath.Ext(in)) + "_deploy" + ext
	}
	if atomicfile.SameFile(in, out) {
		return fail(fmt.Errorf("the output %s is the input file: the input is never modified", clean(out)))
	}
	if err := atomicfile.Check(out, c.Bool("force")); err != nil {
		return fail(err)
	}
	var s *pruneSummary
	if isONNX(in) {
		if c.IsSet("format") {
			return fail(fmt.Errorf("--format is a checkpoint's; %s is an ONNX file, written back as ONNX", clean(in)))
		}
		s, err = pruneONNX(c, in, out)
	} else if c.String("outputs") != "" {
		return fail(fmt.Errorf("--outputs names an ONNX file's outputs; %s is no ONNX file", clean(in)))
	} else {
		s, err = pruneCheckpoint(c, in, out, format)
	}
	if err != nil {
		return loadFailed(c, err)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, s)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "wrote %s: removed %d entries (%d parameters, %s)", clean(out), len(s.Removed), s.RemovedParameters, humanBytes(int64(s.BytesSaved)))
	if s.Format == "onnx" {
		fmt.Fprintf(w, ", %d nodes and %d initializers", s.RemovedNodes, s.RemovedInits)
	}
	fmt.Fprintf(w, "; kept %d (%d parameters, %s)\n", s.KeptKeys, s.KeptParameters, humanBytes(int64(s.KeptBytes)))
	if s.Format != "onnx" {
		fmt.Fprintf(w, "removed: %s\n", shortList(s.Removed))
	}
	return nil
}

// isONNX tells an ONNX file from a checkpoint: by its name, or by its
// first bytes (ModelProto's fields).
func isONNX(path string) bool {
	if strings.EqualFold(filepath.Ext(path), ".onnx") {
		return true
	}
	k, err := filekind.File(path)
	return err == nil && k.Name == "onnx"
}

func pruneCheckpoint(c *cli.Context, in, out, format string) (*pruneSummary, error) {
	l, err := loadCheckpoint(c, in, graph.AuxAuto)
	if err != nil {
		return nil, err
	}
	if !l.report.AuxInFile {
		return nil, fmt.Errorf("%s has no aux heads: there is nothing to prune", clean(in))
	}
	kept, removed := graph.StripAux(l.ck.StateDict, graph.AuxEntries(l.ck.StateDict, l.report))
	// The result must be what the deploy network loads strictly.
	opts, _ := loadOptions(c, graph.AuxOff)
	opts.NonStrict = false
	opts.Layout = l.report.Layout
	if _, _, err := graph.Load(kept, opts); err != nil {
		return nil, fmt.Errorf("the pruned state dict does not load into the deploy network: %w", err)
	}
	s := &pruneSummary{Input: in, Output: out, Format: format, Removed: removed}
	for _, k := range removed {
		t := l.ck.StateDict.Tensors[k]
		s.RemovedParameters += t.Numel()
		s.BytesSaved += len(t.Raw)
	}
	for _, k := range kept.Names {
		t := kept.Tensors[k]
		s.KeptKeys++
		s.KeptParameters += t.Numel()
		s.KeptBytes += len(t.Raw)
	}
	if format == "safetensors" {
		if c.Bool("keep-wrapper") && l.ck.WrapperKey != "" {
			return nil, fmt.Errorf("--keep-wrapper: a safetensors file holds tensors only, not the training dict around them; write --format pth, or drop --keep-wrapper")
		}
		return s, writeSafetensors(out, c.Bool("force"), kept, safetensorsMetadata(l.ck))
	}
	var root interface{}
	if c.Bool("keep-wrapper") && l.ck.WrapperKey != "" {
		root, err = rewrapped(l.ck, kept)
		if err != nil {
			return nil, err
		}
		s.WrapperKept = true
	}
	err = atomicfile.Write(out, c.Bool("force"), func(w io.Writer) error {
		if root != nil {
			return convert.WriteObject(w, root, false)
		}
		return convert.WriteCheckpoint(w, kept)
	})
	if errors.Is(err, convert.ErrNotPlain) {
		return nil, fmt.Errorf("--keep-wrapper: the training dict holds a value gnconv does not write back (%w); drop --keep-wrapper to write the plain state dict", err)
	}
	return s, err
}

// rewrapped is the checkpoint's top-level dict with the state dict under
// its wrapper path replaced by the pruned one (under its original names);
// the dicts along the path are copied, the input's values are not changed.
func rewrapped(ck *convert.Checkpoint, kept *tensor.StateDict) (interface{}, error) {
	sd := &convert.Dict{}
	for _, k := range kept.Names {
		sd.Keys = append(sd.Keys, ck.Prefix+k)
		sd.Values = append(sd.Values, kept.Tensors[k])
	}
	var replace func(v interface{}, path []string) (interface{}, error)
	replace = func(v interface{}, path []string) (interface{}, error) {
		if len(path) == 0 {
			return sd, nil
		}
		d, ok := v.(*convert.Dict)
		if !ok {
			return nil, fmt.Errorf("--keep-wrapper: %s is not a dict", path[0])
		}
		out := &convert.Dict{Keys: d.Keys, Values: append([]interface{}(nil), d.Values...)}
		for i, k := range d.Keys {
			if k == path[0] {
				nv, err := replace(d.Values[i], path[1:])
				if err != nil {
					return nil, err
				}
				out.Values[i] = nv
			}
		}
		return out, nil
	}
	return replace(ck.Root, ck.WrapperPath)
}

func pruneONNX(c *cli.Context, in, out string) (*pruneSummary, error) {
	if err := setLimitScale(c.Int64("limit-scale")); err != nil {
		return nil, usageErr(err)
	}
	// a regular file of bounded size, as every ONNX file gnconv reads
	data, err := verify.ReadFile(in, verify.Limits{}.Scaled(c.Int64("limit-scale")))
	if err != nil {
		return nil, err
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		if k := filekind.Bytes(data); k.Known() && k.Name != "onnx" {
			return nil, fmt.Errorf("%s is %s, not an ONNX model", clean(in), clean(k.Description))
		}
		return nil, fmt.Errorf("%s: not an ONNX model: %v", clean(in), err)
	}
	drop, err := auxOutputs(m, c.String("outputs"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", clean(in), err)
	}
	before := map[string]*onnxpb.TensorProto{}
	for _, t := range m.GetGraph().GetInitializer() {
		before[t.GetName()] = t
	}
	nodes, inits, err := convert.PruneONNXOutputs(m, drop)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", clean(in), cleanLines(err.Error()))
	}
	for _, p := range m.MetadataProps {
		if p.GetKey() == "aux_outputs" {
			p.Value = proto.String("false")
		}
	}
	s := &pruneSummary{Input: in, Output: out, Format: "onnx", RemovedNodes: nodes, RemovedInits: inits}
	after := map[string]bool{}
	for _, t := range m.GetGraph().GetInitializer() {
		after[t.GetName()] = true
		s.KeptKeys++
		s.KeptParameters += elements(t)
		s.KeptBytes += len(t.GetRawData())
	}
	for name, t := range before {
		if !after[name] {
			s.Removed = append(s.Removed, name)
			s.RemovedParameters += elements(t)
			s.BytesSaved += len(t.GetRawData())
		}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	err = atomicfile.Write(out, c.Bool("force"), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	return s, err
}

func elements(t *onnxpb.TensorProto) int {
	n := 1
	for _, d := range t.GetDims() {
		n *= int(d)
	}
	return n
}

// auxOutputs are the names of the file's aux outputs: aux1 and aux2, or
// those that --outputs says are aux heads (given in the file's output
// order, as verify --outputs).
func auxOutputs(m *onnxpb.ModelProto, given string) ([]string, error) {
	outs := m.GetGraph().GetOutput()
	var names []string
	for _, o := range outs {
		names = append(names, o.GetName())
	}
	if given == "" {
		has := map[string]bool{}
		for _, n := range names {
			has[n] = true
		}
		if !has["aux1"] && !has["aux2"] {
			if len(names) > 1 {
				return nil, fmt.Errorf("no output is named aux1 or aux2 (the outputs are %s): say what they are in order with --outputs, e.g. --outputs %s",
					strings.Join(cleanAll(names), ", "), strings.Join([]string{"logits", "aux2", "aux1"}[:min(3, len(names))], ","))
			}
			return nil, fmt.Errorf("the model has one output (%s) and no aux heads: there is nothing to prune", clean(names[0]))
		}
		var drop []string
		for _, n := range []string{"aux1", "aux2"} {
			if has[n] {
				drop = append(drop, n)
			}
		}
		return drop, nil
	}
	roles := strings.Split(given, ",")
	if len(roles) != len(names) {
		return nil, fmt.Errorf("--outputs names %d outputs, the file has %d (%s)", len(roles), len(names), strings.Join(cleanAll(names), ", "))
	}
	seen := map[string]bool{}
	var drop []string
	for i, r := range roles {
		r = strings.TrimSpace(r)
		switch r {
		case "logits", "aux1", "aux2":
		default:
			return nil, fmt.Errorf("--outputs: %q is not logits, aux1 or aux2", clean(r))
		}
		if seen[r] {
			return nil, fmt.Errorf("--outputs names %s twice", r)
		}
		seen[r] = true
		if r != "logits" {
			drop = append(drop, names[i])
		}
	}
	if !seen["logits"] {
		return nil, fmt.Errorf("--outputs names no logits output")
	}
	if len(drop) == 0 {
		return nil, fmt.Errorf("--outputs names no aux output: there is nothing to prune")
	}
	return drop, nil
}
