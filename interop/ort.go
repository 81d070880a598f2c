// Package interop runs ONNX files in onnxruntime, the executor users
// deploy on, for gnconv's interop tests and benchmarks. It loads the
// libonnxruntime.so that the npm package onnxruntime-node ships
// (`npm ci --ignore-scripts` in this folder), or the one named by
// GNCONV_ONNXRUNTIME_LIB.
package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryPath is the onnxruntime shared library to load, or "" when none
// is installed.
func LibraryPath() string {
	if p := os.Getenv("GNCONV_ONNXRUNTIME_LIB"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	p := filepath.Join(filepath.Dir(file), "node_modules", "onnxruntime-node", "bin", "napi-v6", runtime.GOOS, arch, "libonnxruntime.so.1")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

var (
	initOnce sync.Once
	initErr  error
)

// Init loads onnxruntime once per process.
func Init() error {
	initOnce.Do(func() {
		p := LibraryPath()
		if p == "" {
			initErr = fmt.Errorf("onnxruntime not installed: run `npm ci --ignore-scripts` in interop/ or set GNCONV_ONNXRUNTIME_LIB")
			return
		}
		ort.SetSharedLibraryPath(p)
		initErr = ort.InitializeEnvironment()
	})
	return initErr
}

// Session is an onnxruntime session on one model.
type Session struct {
	s       *ort.DynamicAdvancedSession
	outputs []string
}

// NewSession opens a model held in memory with the given threads (0: all
// cores).
func NewSession(model []byte, input string, outputs []string, threads int) (*Session, error) {
	return NewSessionInputs(model, []string{input}, outputs, threads)
}

// NewSessionInputs opens a model with several float32 inputs.
func NewSessionInputs(model []byte, inputs, outputs []string, threads int) (*Session, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			return nil, err
		}
		if err := opts.SetInterOpNumThreads(1); err != nil {
			return nil, err
		}
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, inputs, outputs, opts)
	if err != nil {
		return nil, err
	}
	return &Session{s: s, outputs: outputs}, nil
}

// Run runs the model on one float32 input and returns each output's values.
func (s *Session) Run(x []float32, shape ...int64) ([][]float32, error) {
	return s.RunInputs([][]float32{x}, [][]int64{shape})
}

// RunInputs runs the model on several float32 inputs, in the session's
// input order, and returns each output's values.
func (s *Session) RunInputs(xs [][]float32, shapes [][]int64) ([][]float32, error) {
	outs, err := s.RunShaped(xs, shapes)
	if err != nil {
		return nil, err
	}
	res := make([][]float32, len(outs))
	for i, o := range outs {
		res[i] = o.Data
	}
	return res, nil
}

// Output is one output of a run: its shape, as onnxruntime gives it, and
// its values.
type Output struct {
	Shape []int64
	Data  []float32
}

// RunShaped runs the model on several float32 inputs, in the session's
// input order, and returns each output with its shape.
func (s *Session) RunShaped(xs [][]float32, shapes [][]int64) ([]Output, error) {
	ins := make([]ort.Value, len(xs))
	for i, x := range xs {
		in, err := ort.NewTensor(ort.NewShape(shapes[i]...), x)
		if err != nil {
			return nil, err
		}
		defer in.Destroy()
		ins[i] = in
	}
	outs := make([]ort.Value, len(s.outputs))
	if err := s.s.Run(ins, outs); err != nil {
		return nil, err
	}
	defer func() {
		for _, o := range outs {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	res := make([]Output, len(outs))
	for i, o := range outs {
		t, ok := o.(*ort.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("output %s is not float32", s.outputs[i])
		}
		res[i] = Output{Shape: append([]int64{}, t.GetShape()...), Data: append([]float32(nil), t.GetData()...)}
	}
	return res, nil
}

// Close releases the session.
func (s *Session) Close() error { return s.s.Destroy() }

// Run is a one-shot NewSession + Run + Close.
func Run(model []byte, input string, outputs []string, x []float32, shape ...int64) ([][]float32, error) {
	s, err := NewSession(model, input, outputs, 0)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Run(x, shape...)
}
