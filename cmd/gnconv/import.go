package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/atomicfile"
	"github.com/gnconv/gnconv/internal/filekind"
	"github.com/gnconv/gnconv/internal/labels"
	"github.com/gnconv/gnconv/internal/preprocess"
	"github.com/gnconv/gnconv/verify"
	"github.com/urfave/cli/v2"
)

type importSummary struct {
	Input        string         `json:"input"`
	Output       string         `json:"output"`
	Layout       string         `json:"layout"`
	Classes      int            `json:"classes"`
	Opset        int            `json:"opset"`
	Nodes        int            `json:"nodes"`
	Initializers int            `json:"initializers"`
	Parameters   int            `json:"parameters"`
	Bytes        int            `json:"bytes"`
	Outputs      []string       `json:"outputs"`
	Ops          map[string]int `json:"ops"`
	Seconds      float64        `json:"seconds"`
	Verify       *verifyReport  `json:"verify,omitempty"`
}

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "convert a GoogLeNet checkpoint to ONNX",
		ArgsUsage: "model.pth",
		Flags: append(append(loadFlags(),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "ONNX file to write (default: the input name with .onnx)"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite an existing output file"},
			&cli.BoolFlag{Name: "aux", Usage: "keep the aux heads as outputs aux1 and aux2 (default: logits only, as deploy models)"},
			&cli.IntFlag{Name: "opset", Value: convert.DefaultOpset, Usage: fmt.Sprintf("ONNX opset, %d to %d", convert.MinOpset, convert.MaxOpset)},
			&cli.BoolFlag{Name: "no-fold-bn", Usage: "keep BatchNormalization nodes instead of folding them into the convolutions"},
			&cli.BoolFlag{Name: "softmax", Usage: "append Softmax to each output; the outputs are then named probabilities (aux1_probabilities, aux2_probabilities)"},
			&cli.StringFlag{Name: "labels", Usage: "class names, one per line in class order, stored in the file's metadata (as many as the network has classes)"},
			&cli.StringFlag{Name: "preprocess", Usage: "take uint8 pixels (input \"image\") and normalise them inside the file: imagenet (ImageNet mean and std), tutorial (0.5 and 0.5 per channel) or none (default: a float32 input, normalised by the caller); no resize is done in the file"},
			&cli.StringFlag{Name: "mean", Usage: "with --preprocess: one mean per input channel, comma-separated, instead of the preset's (with --std; alone, they imply --preprocess custom)"},
			&cli.StringFlag{Name: "std", Usage: "one std per input channel, comma-separated (with --mean)"},
			&cli.StringFlag{Name: "input-layout", Value: "nhwc", Usage: "with --preprocess: the pixels' layout, nhwc (as image decoders give them) or nchw"},
			&cli.StringFlag{Name: "dtype", Value: "float32", Usage: "the weights' and the computation's type: float32 or float16 (batch norm is folded in float32 first)"},
			&cli.StringFlag{Name: "io", Value: "float32", Usage: "with --dtype float16: the input's and outputs' type, float32 (Casts at the edges) or float16"},
			&cli.IntFlag{Name: "batch", Usage: "fix the batch dimension (default: symbolic)"},
			&cli.StringFlag{Name: "size", Usage: "input height and width, H,W (default: the layout's, 224,224 for ImageNet layouts), or dynamic: any size from the smallest the network takes (no aux outputs)"},
			&cli.BoolFlag{Name: "allow-nonfinite", Usage: "write the model even when weights hold NaN or Inf (refused otherwise: the model would compute NaN)"},
			&cli.BoolFlag{Name: "verify", Usage: "run gnconv verify on the written file (exit 1 on a mismatch)"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON summary"},
		),
			append(quantizeFlags(), verifyFlags(false)...)...),
		Action: runImport,
	}
}

func parseSize(s string) (int, int, error) {
	parts := strings.Split(s, ",")
	if len(parts) == 1 {
		parts = append(parts, parts[0])
	}
	if len(parts) != 2 {
		return 0, 0, fmt.Errorf("--size wants H,W (like 224,224), got %q", s)
	}
	h, err1 := strconv.Atoi(strings.TrimSpace(parts[0]))
	w, err2 := strconv.Atoi(strings.TrimSpace(parts[1]))
	if err1 != nil || err2 != nil || h <= 0 || w <= 0 {
		return 0, 0, fmt.Errorf("--size wants two positive integers H,W, got %q", s)
	}
	return h, w, nil
}

func runImport(c *cli.Context) error {
	start := time.Now()
	if c.NArg() != 1 {
		return fail(fmt.Errorf("import takes one checkpoint file, got %d arguments", c.NArg()))
	}
	in := c.Args().First()
	out := c.String("output")
	if out == "" {
		out = strings.TrimSuffix(in, filepath.Ext(in)) + ".onnx"
	}
	if k, err := filekind.File(in); err == nil {
		if what := notACheckpoint(in, k); what != "" {
			return fail(errors.New(what))
		}
	}
	if atomicfile.SameFile(in, out) {
		return fail(fmt.Errorf("the output %s is the input file", clean(out)))
	}
	var h, w int
	var err error
	dynamic := c.String("size") == "dynamic"
	if !dynamic && c.String("size") != "" {
		if h, w, err = parseSize(c.String("size")); err != nil {
			return fail(err)
		}
	} else if e := c.String("expect"); e != "" {
		// the size PyTorch ran at, unless told otherwise
		exp, err := readExpect(e)
		if err != nil {
			return fail(err)
		}
		h, w = exp.Input.H, exp.Input.W
	}
	if c.Int("batch") < 0 {
		return fail(fmt.Errorf("--batch must be positive"))
	}
	if err := atomicfile.Check(out, c.Bool("force")); err != nil {
		return fail(err)
	}
	f16, f16IO, err := dtypeFlags(c)
	if err != nil {
		return fail(err)
	}
	quantize, err := quantizeChecks(c)
	if err != nil {
		return fail(err)
	}
	var names []string
	if p := c.String("labels"); p != "" {
		if names, err = labels.ReadFile(p); err != nil {
			return fail(fmt.Errorf("--labels %s: %w", clean(p), err))
		}
	}
	prog := newProgress(in)
	prog.step("reading")
	l, err := loadCheckpoint(c, in, graph.AuxAuto)
	if err != nil {
		prog.done()
		return loadFailed(c, err)
	}
	if nf := l.report.NonFinite; len(nf) > 0 && !c.Bool("allow-nonfinite") {
		prog.done()
		return fail(fmt.Errorf("%s: weights hold NaN or Inf: %s; the ONNX model would compute NaN, so it is not written (--allow-nonfinite writes it all the same)", clean(in), shortList(nf)))
	}
	sum, err := fileSHA256(in)
	if err != nil {
		prog.done()
		return fail(err)
	}
	pre, err := preprocessFlags(c, l.net.InChannels)
	if err != nil {
		prog.done()
		return fail(err)
	}
	if len(names) > 0 {
		if err := labels.Check(names, l.net.Classes); err != nil {
			prog.done()
			return fail(fmt.Errorf("--labels %s: %w", clean(c.String("labels")), err))
		}
	}
	var q *convert.Int8
	if quantize {
		prog.step("calibrating")
		if q, err = calibrate(c, l.net, h, w, pre); err != nil {
			prog.done()
			return fail(err)
		}
	}
	prog.step("emitting ONNX")
	opts := convert.ONNXOptions{
		Opset: c.Int("opset"), Aux: c.Bool("aux"), KeepBN: c.Bool("no-fold-bn"), Softmax: c.Bool("softmax"),
		Batch: c.Int("batch"), Height: h, Width: w, Dynamic: dynamic,
		SourceFile: filepath.Base(in), SourceSHA256: sum, Version: version, Assumed: l.report.Assumed,
		Labels: names, Preprocess: pre, Float16: f16, Float16IO: f16IO, Int8: q,
	}
	model, err := convert.EmitONNX(l.net, opts)
	if err != nil {
		prog.done()
		return fail(err)
	}
	prog.step("writing")
	var written int64
	err = atomicfile.Write(out, c.Bool("force"), func(wr io.Writer) error {
		bw := bufio.NewWriterSize(wr, 1<<20)
		n, err := model.WriteTo(bw)
		written = n
		if err != nil {
			return err
		}
		return bw.Flush()
	})
	prog.done()
	if err != nil {
		return fail(err)
	}
	s := importSummary{Input: in, Output: out, Layout: l.net.Layout.String(), Classes: l.net.Classes, Opset: c.Int("opset"),
		Nodes: model.Nodes, Initializers: model.Initializers, Parameters: model.Parameters, Bytes: int(written),
		Outputs: model.Outputs, Ops: model.OpCounts}
	var verr error
	if c.Bool("verify") || c.String("expect") != "" {
		if f16 && !c.IsSet("atol") && !c.IsSet("rtol") {
			// a float16 file is held to the bound derived for float16
			_ = c.Set("atol", fmt.Sprint(verify.DefaultATolFloat16))
			_ = c.Set("rtol", fmt.Sprint(verify.DefaultRTolFloat16))
		}
		s.Verify, verr = verifyFile(c, out, l)
	}
	s.Seconds = time.Since(start).Seconds()
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, s); err != nil {
			return fail(err)
		}
	} else {
		fmt.Fprintf(c.App.Writer, "wrote %s: GoogLeNet (%s layout, %d classes), opset %d, %d nodes, %d parameters, %s, outputs %s, in %.2fs\n",
			clean(out), clean(s.Layout), s.Classes, s.Opset, s.Nodes, s.Parameters, humanBytes(int64(s.Bytes)), strings.Join(cleanAll(s.Outputs), ", "), s.Seconds)
		if s.Verify != nil {
			printVerify(c.App.Writer, s.Verify)
		}
	}
	return verr
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// progress prints stage lines on a terminal for files larger than a few MB.
type progress struct {
	on    bool
	name  string
	start time.Time
}

func newProgress(path string) *progress {
	p := &progress{name: filepath.Base(path), start: time.Now()}
	st, err := os.Stat(path)
	if err != nil || st.Size() < 4<<20 {
		return p
	}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		p.on = true
	}
	return p
}

func (p *progress) step(what string) {
	if p.on {
		fmt.Fprintf(os.Stderr, "\r\033[K%s: %s… (%.1fs)", p.name, what, time.Since(p.start).Seconds())
	}
}

func (p *progress) done() {
	if p.on {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
}

// dtypeFlags reads --dtype and --io: whether the file computes in float16,
// and whether its input and outputs are float16 too.
func dtypeFlags(c *cli.Context) (f16, f16IO bool, err error) {
	switch c.String("dtype") {
	case "float32":
	case "float16":
		f16 = true
	default:
		return false, false, fmt.Errorf("--dtype must be float32 or float16")
	}
	switch c.String("io") {
	case "float32":
	case "float16":
		if !f16 {
			return false, false, fmt.Errorf("--io float16 needs --dtype float16")
		}
		f16IO = true
	default:
		return false, false, fmt.Errorf("--io must be float32 or float16")
	}
	if f16IO && c.String("preprocess") != "" && c.String("preprocess") != "none" {
		return false, false, fmt.Errorf("--io float16 and --preprocess: the input is uint8 pixels; give one or the other")
	}
	return f16, f16IO, nil
}

// preprocessFlags reads --preprocess, --mean, --std and --input-layout for
// a network of that many input channels: nil for a float input.
func preprocessFlags(c *cli.Context, channels int) (*preprocess.Spec, error) {
	name := c.String("preprocess")
	if c.IsSet("mean") != c.IsSet("std") {
		return nil, fmt.Errorf("--mean and --std go together")
	}
	custom := c.IsSet("mean")
	if (name == "" || name == "none") && !custom {
		if c.IsSet("input-layout") {
			return nil, fmt.Errorf("--input-layout needs --preprocess")
		}
		return nil, nil
	}
	if name == "none" {
		return nil, fmt.Errorf("--preprocess none takes no --mean or --std")
	}
	var s preprocess.Spec
	var err error
	if custom {
		s.Name = "custom"
		if s.Mean, err = preprocess.ParseValues("mean", c.String("mean"), channels); err != nil {
			return nil, err
		}
		if s.Std, err = preprocess.ParseValues("std", c.String("std"), channels); err != nil {
			return nil, err
		}
	} else if s, err = preprocess.Preset(name, channels); err != nil {
		return nil, err
	}
	switch c.String("input-layout") {
	case preprocess.NHWC, preprocess.NCHW:
		s.Layout = c.String("input-layout")
	default:
		return nil, fmt.Errorf("--input-layout must be nhwc or nchw")
	}
	if err := s.Check(channels); err != nil {
		return nil, err
	}
	return &s, nil
}
