// Package graph is the GoogLeNet family: network descriptions (built-in
// presets and layout files, graph/layouts), detection of a preset from a
// state dict's names, strict and non-strict binding, the reference forward
// pass and aux-head pruning. A network is one ordered list of layers that
// every pass walks. The package reads and writes no files: checkpoints come
// from package convert.
//
// The flow:
//
//	ck, err := convert.ReadCheckpoint("model.pth")
//	net, report, err := graph.Load(ck.StateDict, graph.Options{}) // strict; the layout detected
//	outs, err := net.Forward(x, batch, 224, 224, net.HasAux())     // logits, then aux1 and aux2
//
// Load binds strictly by default, as PyTorch's load_state_dict(strict=True)
// does, and fails with a *LoadError worded as PyTorch words it; Options
// names a layout, the class count, the aux heads, and what a state dict
// cannot record (transform_input, LRN). The LoadReport says which layout
// bound and what was assumed rather than read.
//
// # Concurrency
//
// A *Net is safe for concurrent use by Forward and ForwardLayers once Load
// has returned it: any number of goroutines may run passes on one network
// at a time. This holds because a pass only reads the network's weights
// and layers; a convolution packs its weights for the kernels once, under
// a sync.Once; and the activation buffers recycled from pass to pass are
// taken from and handed back to per-share pools under a lock, each buffer
// belonging to one pass between the two. The outputs Forward returns are
// new slices that belong to the caller; the activations a ForwardLayers
// visitor is shown are recycled once it returns, so a visitor that keeps
// one copies it. WithoutAux returns a network that shares the weights
// and the pools; it is as safe to use alongside the original.
//
// What is not synchronised: changing a Net's exported fields (its layers,
// weights, switches) while anything uses it, and Load itself on one state
// dict from several goroutines at once (see package convert).
package graph
