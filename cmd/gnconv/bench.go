package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/atomicfile"
	"github.com/gnconv/gnconv/internal/kernels"
	"github.com/gnconv/gnconv/verify"
	"github.com/gnconv/gnconv/verify/ops"
	"github.com/urfave/cli/v2"
)

// benchReport is what gnconv bench measured, and where.
type benchReport struct {
	File       string        `json:"file"`
	Weights    string        `json:"weights,omitempty"`
	Input      string        `json:"input"`
	Shape      []int         `json:"shape"`
	Seed       int64         `json:"seed"`
	Warmup     int           `json:"warmup"`
	Runs       int           `json:"runs"`
	Kernel     benchKernel   `json:"kernel"`
	CPU        string        `json:"cpu,omitempty"`
	GOMAXPROCS int           `json:"gomaxprocs"`
	GoVersion  string        `json:"go_version"`
	Engines    []benchEngine `json:"engines"`
}

// benchKernel is kernels.Kernel() for people and for JSON.
type benchKernel struct {
	Name      string   `json:"name"`
	ISA       string   `json:"isa"`
	Available []string `json:"available"`
	Features  string   `json:"cpu_features"`
	Winograd  bool     `json:"winograd_3x3"`
	// WinogradName says which transforms run ("" without Winograd)
	WinogradName string `json:"winograd,omitempty"`
	Requested    string `json:"requested,omitempty"`
	Error        string `json:"error,omitempty"`
}

// benchEngine is one engine's timed passes.
type benchEngine struct {
	Engine       string    `json:"engine"`
	MedianMS     float64   `json:"median_ms"`
	MinMS        float64   `json:"min_ms"`
	MaxMS        float64   `json:"max_ms"`
	ImagesPerSec float64   `json:"images_per_s"`
	PassesMS     []float64 `json:"passes_ms"`

	run func() error
}

// Bounds on what bench is asked for.
const (
	maxBenchRuns = 1_000_000
	maxBenchSide = 1 << 15
)

func benchCommand() *cli.Command {
	flags := append(loadFlags(),
		&cli.StringFlag{Name: "weights", Aliases: []string{"w"}, Usage: "a checkpoint (read with the loading flags): time the reference forward pass of its weights too"},
		&cli.IntFlag{Name: "batch", Value: 1, Usage: "batch size, when the file leaves it open"},
		&cli.StringFlag{Name: "size", Usage: "input height,width, when the file leaves them open (default 224,224)"},
		&cli.IntFlag{Name: "runs", Value: 10, Usage: "timed passes per engine"},
		&cli.IntFlag{Name: "warmup", Value: 2, Usage: "untimed passes per engine before the timed ones"},
		&cli.Int64Flag{Name: "seed", Value: 0, Usage: "seed of the random input (standard normal)"},
		&cli.BoolFlag{Name: "json", Usage: "print the measurements as JSON"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the timed passes to `FILE` (go tool pprof reads it); an existing file is replaced"},
	)
	return &cli.Command{
		Name:  "bench",
		Usage: "time gnconv's ONNX interpreter (and the reference forward pass of --weights) on this machine",
		Description: "Runs the file on one random batch: warm-up passes, then --runs timed passes per engine, the\n" +
			"engines taking turns pass by pass. Prints the median, fastest and slowest pass, images/s, the\n" +
			"micro-kernel in use, the CPU's vector features and whether 3x3 convolutions run as Winograd's\n" +
			"F(4x4, 3x3) or F(2x2, 3x3). GNCONV_KERNEL=avx512|avx2|neon|go forces a kernel,\n" +
			"GNCONV_WINOGRAD=1|2|0 Winograd (both, F(2x2, 3x3) alone, off).\n" +
			"Exit status: 0, or 2 on an error.",
		ArgsUsage: "model.onnx [--weights model.pth]",
		Flags:     flags,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr(fmt.Errorf("bench takes one ONNX file, got %d arguments", c.NArg()))
			}
			rep, err := runBench(c, c.Args().First())
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := writeJSON(c.App.Writer, rep); err != nil {
					return fail(err)
				}
				return nil
			}
			printBench(c.App.Writer, rep)
			return nil
		},
	}
}

func runBench(c *cli.Context, path string) (*benchReport, error) {
	runs, warmup, batch := c.Int("runs"), c.Int("warmup"), c.Int("batch")
	if runs < 1 || runs > maxBenchRuns {
		return nil, usageErr(fmt.Errorf("--runs must be 1 to %d", maxBenchRuns))
	}
	if warmup < 0 || warmup > maxBenchRuns {
		return nil, usageErr(fmt.Errorf("--warmup must be 0 to %d", maxBenchRuns))
	}
	if batch < 1 || batch > maxBenchSide {
		return nil, usageErr(fmt.Errorf("--batch must be 1 to %d", maxBenchSide))
	}
	h, w := 224, 224
	if s := c.String("size"); s != "" {
		var err error
		if h, w, err = parseSize(s); err != nil {
			return nil, usageErr(err)
		}
		if h > maxBenchSide || w > maxBenchSide {
			return nil, usageErr(fmt.Errorf("--size: each side must be at most %d", maxBenchSide))
		}
	}
	k := c.Int64("limit-scale")
	if k < 1 || k > maxLimitScale {
		return nil, usageErr(fmt.Errorf("--limit-scale must be 1 to %d", maxLimitScale))
	}
	var l *loaded
	if wp := c.String("weights"); wp != "" {
		var err error
		if l, err = loadCheckpoint(c, wp, graph.AuxAuto); err != nil {
			return nil, loadFailed(c, err)
		}
	}
	limits := verify.Limits{}.Scaled(k)
	data, err := verify.ReadFile(path, limits)
	if err != nil {
		return nil, fail(err)
	}
	p := clean(path)
	m, err := verify.ParseLimits(data, limits)
	if err != nil {
		return nil, fail(fmt.Errorf("%s: %w", p, err))
	}
	if len(m.Inputs) != 1 || len(m.Inputs[0].Shape) != 4 {
		return nil, fail(fmt.Errorf("%s: the model's inputs are not one NCHW image batch", p))
	}
	in := m.Inputs[0]
	ch := in.Shape[1]
	if l != nil {
		if ch > 0 && ch != l.net.InChannels {
			return nil, fail(fmt.Errorf("%s takes %d channels, the weights' network %d", p, ch, l.net.InChannels))
		}
		ch = l.net.InChannels
	}
	if ch <= 0 {
		ch = 3
	}
	// the file's fixed dimensions win; a flag that asks for others is an error
	for i, d := range []struct {
		v    *int
		flag string
	}{{&batch, "batch"}, {nil, ""}, {&h, "size"}, {&w, "size"}} {
		if d.v == nil || in.Shape[i] <= 0 {
			continue
		}
		if c.IsSet(d.flag) && *d.v != in.Shape[i] {
			return nil, usageErr(fmt.Errorf("%s fixes its input at %v; --%s cannot change it", p, in.Shape, d.flag))
		}
		*d.v = in.Shape[i]
	}
	shape := []int{batch, ch, h, w}
	if e, ok := ops.Extent(shape); !ok || e > limits.MaxTensorElements {
		return nil, usageErr(fmt.Errorf("an input of shape %v is over the limit of %d elements (--limit-scale raises it)", shape, limits.MaxTensorElements))
	}
	x := make([]float32, batch*ch*h*w)
	rng := rand.New(rand.NewSource(c.Int64("seed")))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	inputs := map[string]*verify.Value{in.Name: {Shape: shape, F: x}}
	engines := []*benchEngine{{Engine: "interpreter", run: func() error {
		_, err := m.Run(inputs)
		return err
	}}}
	rep := &benchReport{File: path, Input: in.Name, Shape: shape, Seed: c.Int64("seed"), Warmup: warmup, Runs: runs,
		CPU: cpuModel(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	if l != nil {
		rep.Weights = c.String("weights")
		net := l.net
		withAux := len(m.Outputs) > 1 && net.HasAux() // the file's aux outputs, if it has them
		if err := net.CheckInput(h, w); err != nil {
			return nil, fail(fmt.Errorf("reference forward pass: %w", err))
		}
		engines = append(engines, &benchEngine{Engine: "reference", run: func() error {
			_, err := net.Forward(x, batch, h, w, withAux)
			return err
		}})
	}
	ki := kernels.Kernel()
	rep.Kernel = benchKernel{Name: ki.Name, ISA: ki.ISA, Available: ki.Available, Features: ki.CPU, Winograd: ki.Winograd,
		WinogradName: kernels.WinogradName(), Requested: ki.Requested}
	if ki.Err != nil {
		rep.Kernel.Error = ki.Err.Error()
	}
	prof := c.String("cpuprofile")
	if prof != "" && namesAnInput(c, prof) {
		return nil, usageErr(fmt.Errorf("--cpuprofile %s is an input: the profile goes to a file of its own", clean(prof)))
	}
	var profile bytes.Buffer
	// warm-up, then the timed passes: the engines take turns pass by pass,
	// in alternating order, so that a change in the machine's load
	// reaches each of them alike
	for r := 0; r < warmup+runs; r++ {
		if r == warmup && prof != "" {
			if err := pprof.StartCPUProfile(&profile); err != nil {
				return nil, fail(fmt.Errorf("--cpuprofile: %w", err))
			}
			defer pprof.StopCPUProfile()
		}
		for i := range engines {
			e := engines[i]
			if r%2 == 1 {
				e = engines[len(engines)-1-i]
			}
			t := time.Now()
			if err := e.run(); err != nil {
				return nil, fail(fmt.Errorf("%s: %s: %w", p, e.Engine, err))
			}
			if r >= warmup {
				e.PassesMS = append(e.PassesMS, float64(time.Since(t).Nanoseconds())/1e6)
			}
		}
	}
	if prof != "" {
		pprof.StopCPUProfile()
		if err := atomicfile.Write(prof, true, func(w io.Writer) error {
			_, err := w.Write(profile.Bytes())
			return err
		}); err != nil {
			return nil, fail(fmt.Errorf("--cpuprofile: %w", err))
		}
	}
	for _, e := range engines {
		s := append([]float64(nil), e.PassesMS...)
		sort.Float64s(s)
		e.MinMS, e.MaxMS = s[0], s[len(s)-1]
		if n := len(s); n%2 == 1 {
			e.MedianMS = s[n/2]
		} else {
			e.MedianMS = (s[n/2-1] + s[n/2]) / 2
		}
		e.ImagesPerSec = float64(batch) * 1000 / e.MedianMS
		rep.Engines = append(rep.Engines, *e)
	}
	return rep, nil
}

// cpuModel is the CPU's model name, as Linux reports it ("" elsewhere).
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// sig3 prints x with three significant digits, without an exponent.
func sig3(x float64) string {
	if x <= 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	d := 2 - int(math.Floor(math.Log10(x)))
	if d < 0 {
		return strconv.FormatFloat(math.Round(x/math.Pow10(-d))*math.Pow10(-d), 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'f', d, 64)
}

func printBench(w io.Writer, r *benchReport) {
	fmt.Fprintf(w, "bench: %s, input %q %s, %d warm-up and %d timed %s per engine, engines in turn\n",
		clean(r.File), clean(r.Input), strings.Trim(strings.Join(strings.Fields(fmt.Sprint(r.Shape)), "x"), "[]"),
		r.Warmup, r.Runs, plural(r.Runs, "pass", "passes"))
	k := r.Kernel
	fmt.Fprintf(w, "kernel: %s (CPU features: %s; kernels available: %s); 3x3 convolutions: %s\n", k.Name, k.Features, strings.Join(k.Available, ", "), winogradText(k.WinogradName))
	if k.Error != "" {
		fmt.Fprintf(w, "kernel: %s\n", clean(k.Error))
	} else if k.Requested != "" {
		fmt.Fprintf(w, "kernel: forced with %s=%s\n", kernels.KernelEnv, clean(k.Requested))
	}
	cpu := r.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	fmt.Fprintf(w, "machine: %s, GOMAXPROCS %d, %s\n", clean(cpu), r.GOMAXPROCS, r.GoVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENGINE\tMEDIAN ms\tMIN ms\tMAX ms\tIMAGES/s")
	for _, e := range r.Engines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Engine, sig3(e.MedianMS), sig3(e.MinMS), sig3(e.MaxMS), sig3(e.ImagesPerSec))
	}
	tw.Flush()
}

// winogradText says how 3x3 convolutions run, given the Winograd
// transforms that run ("" for none).
func winogradText(name string) string {
	if name != "" {
		return name + " (" + kernels.WinogradEnv + "=0 turns it off, =2 runs F(2x2, 3x3) alone)"
	}
	return "direct (" + kernels.WinogradEnv + "=1 runs Winograd)"
}
