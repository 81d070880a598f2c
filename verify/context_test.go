package verify_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/verify"
	"google.golang.org/protobuf/proto"
)

// countdown is a context that is cancelled once Err has been asked n
// times: a cancellation at a known point of a run.
type countdown struct {
	context.Context
	n, asked atomic.Int64
}

func (c *countdown) Done() <-chan struct{} { return make(chan struct{}) }

func (c *countdown) Err() error {
	if c.asked.Add(1) > c.n.Load() {
		return context.Canceled
	}
	return nil
}

func contextModel(t *testing.T) (*verify.Model, map[string]*verify.Value) {
	t.Helper()
	data, err := proto.Marshal(emit(t, net(t, "tutorial_aux.pth"), convert.ONNXOptions{Aux: true}))
	if err != nil {
		t.Fatal(err)
	}
	m, err := verify.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	x := &verify.Value{Shape: []int{1, 3, 224, 224}, F: make([]float32, 3*224*224)}
	for i := range x.F {
		x.F[i] = float32(rng.NormFloat64())
	}
	return m, map[string]*verify.Value{m.Inputs[0].Name: x}
}

func TestRunContext(t *testing.T) {
	m, in := contextModel(t)
	want, err := m.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	same := func(got []*verify.Value) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%d outputs, want %d", len(got), len(want))
		}
		for i := range want {
			for j := range want[i].F {
				if got[i].F[j] != want[i].F[j] {
					t.Fatalf("output %d differs from Run's at %d: %v, %v", i, j, got[i].F[j], want[i].F[j])
				}
			}
		}
	}

	// Never cancelled: Run's outputs, bit for bit, with or without a
	// Done channel.
	got, err := m.RunContext(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	same(got)
	ctx, cancel := context.WithCancel(context.Background())
	got, err = m.RunContext(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	same(got)

	// Cancelled before: nothing runs.
	cancel()
	if _, err := m.RunContext(ctx, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := m.RunContext(ctx, in); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired context: %v", err)
	}

	// Cancelled from the fifth Err on: the run stops after its fourth
	// node.
	cd := &countdown{Context: context.Background()}
	cd.n.Store(5)
	if _, err := m.RunContext(cd, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled mid-run: %v", err)
	}
	if asked := cd.asked.Load(); asked != 7 { // before the run, four nodes that go on, the fifth that stops, the verdict
		t.Errorf("the context was asked %d times", asked)
	}

	// The model still runs, and runs alike, after a cancelled run.
	got, err = m.RunContext(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	same(got)
}

// TestModelConcurrentRuns: one parsed model run from several goroutines
// at once (Run, RunContext, RunKeep) gives each the outputs of a run on
// its own (the package's concurrency promise; run it under -race).
func TestModelConcurrentRuns(t *testing.T) {
	m, in := contextModel(t)
	want, err := m.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 6)
	for g := 0; g < 6; g++ {
		go func() {
			var got []*verify.Value
			var err error
			switch g % 3 {
			case 0:
				got, err = m.Run(in)
			case 1:
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				got, err = m.RunContext(ctx, in)
			default:
				got, _, err = m.RunKeep(in, func(name, op string, shape []int) bool { return op == "Concat" })
			}
			if err == nil {
				for i := range want {
					for j := range want[i].F {
						if got[i].F[j] != want[i].F[j] {
							err = fmt.Errorf("goroutine %d: output %d differs at %d", g, i, j)
							break
						}
					}
				}
			}
			errs <- err
		}()
	}
	for g := 0; g < 6; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
