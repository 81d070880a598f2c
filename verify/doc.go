// Package verify executes ONNX files with its own interpreter and compares
// their outputs with gnconv's reference forward pass of the same weights.
// The interpreter follows the file's nodes and attributes; it shares only
// numeric kernels with the reference, so a wrong pad, ceil_mode, epsilon or
// transB in a file shows up as a mismatch.
//
// Verification, as `gnconv verify` runs it:
//
//	data, err := verify.ReadFile("model.onnx", verify.Limits{})
//	rep, err := verify.Run(data, net, verify.Options{Expect: expect}) // net from graph.Load
//	if !rep.Pass { ... }
//
// where expect, optional, is PyTorch's own outputs on an input of its own
// (ExpectedFrom reads them from the state dict of an expect file, read
// with convert.ReadCheckpoint), which both the file and the reference pass
// must match.
//
// # The interpreter as an inference engine
//
// Parse and Model.Run are a small pure-Go inference engine for the
// GoogLeNet family: the files gnconv emits and torch.onnx.export's, at
// opsets 11 to 17, float32, on the CPU.
//
//	model, err := verify.Parse(data)
//	outs, err := model.Run(map[string]*verify.Value{
//		model.Inputs[0].Name: {Shape: []int{n, 3, 224, 224}, F: pixels},
//	})
//	outs, err = model.RunContext(ctx, inputs) // stops when ctx is done
//
// Every file is untrusted input: Parse and each run are bounded by Limits
// (docs/verify.md), and a malformed file is an error, never a crash.
//
// # Concurrency
//
// A *Model is safe for concurrent use by Run, RunKeep, RunContext and
// CompareLayers: any number of goroutines may run one parsed model at a
// time. A run keeps its values, budget and bookkeeping to itself, and
// reads the model's initializers without changing them; what runs share
// is synchronised: initializers packed for the convolution kernels once
// (sync.Once), and the activation buffers recycled from run to run, taken
// from and handed back to per-share pools under a lock, each buffer
// belonging to one run between the two. Input values are only read, and
// the output values a run returns belong to the caller (they are never
// recycled). A Model's exported fields are not to be changed once parsed.
// Run (the function) parses its own Model and only reads the *graph.Net,
// so verifications of one network may run at once.
package verify
