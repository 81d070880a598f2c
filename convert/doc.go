// Package convert reads and writes GoogLeNet checkpoints and emits ONNX:
// the files in and out of gnconv.
//
// The flow, as `gnconv import` runs it:
//
//	ck, err := convert.ReadCheckpoint("model.pth")       // any torch.save file; no pickle code runs
//	net, report, err := graph.Load(ck.StateDict, graph.Options{}) // bind it (package graph)
//	model, err := convert.EmitONNX(net, convert.ONNXOptions{Aux: true})
//	data, err := model.Marshal()                          // or model.WriteTo(w)
//	rep, err := verify.Run(data, net, verify.Options{})   // check it (package verify)
//
// ReadCheckpoint reads the zip format (torch ≥ 1.6) and the legacy one,
// a state dict, a training wrapper ({"model_state_dict": ...}) or a whole
// pickled model, which is read as inert records (Module) and never
// constructed. Every read is bounded by Limits; a file that is no
// checkpoint is an error wrapping ErrFormat, a bound exceeded a
// *LimitError. WriteCheckpoint writes a plain state dict that PyTorch's
// torch.load reads (the deploy checkpoint of `gnconv prune-aux`).
//
// # Concurrency
//
// The functions of this package keep no state between calls: separate
// calls may run at once. EmitONNX only reads the *graph.Net it is given,
// so it may run while other goroutines run the same net's Forward.
// A Checkpoint and its StateDict are plain data without locks, and a
// tensor.Tensor converts its values on the first Float32 call and keeps
// the result: read one state dict from one goroutine at a time (graph.Load
// included), or share it only once nothing converts it any more. The
// network that graph.Load binds may share memory with the state dict's
// float32 tensors: do not change them afterwards.
package convert
