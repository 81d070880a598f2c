package verify

import (
	"context"
	"errors"
)

// errCancelled unwinds a run whose context was cancelled; the
// interpreter turns it into an error, which RunContext replaces with the
// context's.
var errCancelled = errors.New("run cancelled")

// RunContext is Run under a context: the context is checked before the
// run and after every node, and a run whose context is done stops there
// and returns the context's error (context.Canceled or
// context.DeadlineExceeded). A node already running finishes first, so a
// cancellation takes effect within one node's time (on GoogLeNet at
// 224×224, the widest convolution's).
//
// A context that can never be done (context.Background) runs as Run does.
// Otherwise the batch goes through as one run on the calling goroutine,
// rather than in shares of the batch across the cores (each layer's
// kernels still use every core).
func (m *Model) RunContext(ctx context.Context, inputs map[string]*Value) ([]*Value, error) {
	if ctx.Done() == nil {
		return m.Run(inputs)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// RunKeep asks after each node whether to keep its value: the place
	// to look at the context. A cancelled run unwinds from there (the
	// interpreter recovers the panic into an error, and its recycled
	// buffers are simply dropped).
	outs, _, err := m.RunKeep(inputs, func(string, string, []int) bool {
		if ctx.Err() != nil {
			panic(errCancelled)
		}
		return false
	})
	if cerr := ctx.Err(); cerr != nil && err != nil {
		return nil, cerr
	}
	return outs, err
}
