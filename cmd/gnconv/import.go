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
			&cli.BoolFlag{Name: "softmax", Usage: "append Softmax to each output"},
			&cli.IntFlag{Name: "batch", Usage: "fix the batch dimension (default: symbolic)"},
			&cli.StringFlag{Name: "size", Usage: "input height and width, H,W (default: the layout's, 224,224 for ImageNet layouts)"},
			&cli.BoolFlag{Name: "allow-nonfinite", Usage: "write the model even when weights hold NaN or Inf (refused otherwise: the model would compute NaN)"},
			&cli.BoolFlag{Name: "verify", Usage: "run gnconv verify on the written file (exit 1 on a mismatch)"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON summary"},
		),
			verifyFlags(false)...),
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
	if c.String("size") != "" {
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
	prog.step("emitting ONNX")
	opts := convert.ONNXOptions{
		Opset: c.Int("opset"), Aux: c.Bool("aux"), KeepBN: c.Bool("no-fold-bn"), Softmax: c.Bool("softmax"),
		Batch: c.Int("batch"), Height: h, Width: w,
		SourceFile: filepath.Base(in), SourceSHA256: sum, Version: version, Assumed: l.report.Assumed,
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
