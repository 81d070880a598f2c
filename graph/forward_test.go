package graph_test

import (
	"runtime"
	"testing"

	. "github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/internal/fixture"
)

func loadFixture(t testing.TB, name string, opts Options) (*Net, *LoadReport) {
	t.Helper()
	ck, err := fixture.Checkpoint(name)
	if err != nil {
		t.Fatal(err)
	}
	net, rep, err := Load(ck.StateDict, opts)
	if err != nil {
		t.Fatal(err)
	}
	return net, rep
}

func TestForwardMatchesTorch(t *testing.T) {
	m, err := fixture.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Models) < 2 {
		t.Fatalf("only %d model fixtures", len(m.Models))
	}
	for name, fx := range m.Models {
		name, fx := name, fx
		t.Run(name, func(t *testing.T) {
			x, err := fixture.ReadF32(fx.Input)
			if err != nil {
				t.Fatal(err)
			}
			type variant struct {
				transform, lrn bool
				outs           map[string]fixture.Array
			}
			runs := []variant{{false, false, fx.Outputs}}
			if fx.OutputsTransformInput != nil {
				runs = append(runs, variant{true, false, fx.OutputsTransformInput})
			}
			if fx.OutputsLRN != nil {
				runs = append(runs, variant{false, true, fx.OutputsLRN})
				// the variant must be told apart from the plain network
				a, _ := fixture.ReadF32(fx.Outputs["logits"].File)
				b, _ := fixture.ReadF32(fx.OutputsLRN["logits"].File)
				if fixture.MaxAbsDiff(a, b) < 5*fixture.Tolerance(a) {
					t.Fatalf("the LRN fixture's logits are too close to the plain ones to test anything")
				}
			}
			for _, run := range runs {
				net, rep := loadFixture(t, name, Options{TransformInput: run.transform, LRN: run.lrn})
				if rep.Layout.String() != fx.Layout || rep.Classes != fx.Classes || rep.Aux != fx.Aux {
					t.Fatalf("detected %s/%d classes/aux %v, want %s/%d/%v", rep.Layout, rep.Classes, rep.Aux, fx.Layout, fx.Classes, fx.Aux)
				}
				batch := len(x) / (3 * 224 * 224)
				if batch < 2 {
					t.Fatalf("batch %d", batch)
				}
				outs, err := net.Forward(x, batch, 224, 224, fx.Aux)
				if err != nil {
					t.Fatal(err)
				}
				if len(outs) != len(run.outs) {
					t.Fatalf("%d outputs, torch recorded %d", len(outs), len(run.outs))
				}
				for _, o := range outs {
					arr, ok := run.outs[o.Name]
					if !ok {
						t.Fatalf("no recorded %s", o.Name)
					}
					want, err := fixture.ReadF32(arr.File)
					if err != nil {
						t.Fatal(err)
					}
					tol := fixture.Tolerance(want)
					d, err := fixture.Check(o.Data, o.Shape, want, arr.Shape, tol)
					t.Logf("transform=%v lrn=%v %s: max abs diff %.3g = %.3g relative (tolerance %.3g)", run.transform, run.lrn, o.Name, d, d/tol*fixture.RelTol, tol)
					if err != nil {
						t.Errorf("transform=%v lrn=%v %s: %v", run.transform, run.lrn, o.Name, err)
					}
				}
			}
		})
	}
}

// TestRepeatedPassesAgree: activations are recycled from pass to pass, so
// a pass must give the same values whatever ran before it, at any batch or
// size, with aux heads or without, and passes may run concurrently.
func TestRepeatedPassesAgree(t *testing.T) {
	for _, name := range []string{"tutorial_aux.pth", "torchvision_aux.pth"} {
		net, _ := loadFixture(t, name, Options{NonStrict: true})
		input := func(n, h, w int, seed float32) []float32 {
			x := make([]float32, n*3*h*w)
			for i := range x {
				x[i] = float32(i%97)/50 - seed
			}
			return x
		}
		x := input(2, 224, 224, 1)
		first, err := net.Forward(x, 2, 224, 224, true)
		if err != nil {
			t.Fatal(err)
		}
		// the deploy network shares the weights and the recycled buffers
		if _, err := net.WithoutAux().Forward(input(1, 160, 192, 0.5), 1, 160, 192, false); err != nil {
			t.Fatal(err)
		}
		done := make(chan []Output, 2)
		for i := 0; i < 2; i++ {
			go func() {
				out, err := net.Forward(input(2, 224, 224, float32(i)*3), 2, 224, 224, true)
				if err != nil {
					t.Error(err)
				}
				done <- out
			}()
		}
		<-done
		<-done
		again, err := net.Forward(x, 2, 224, 224, true)
		if err != nil {
			t.Fatal(err)
		}
		for i := range first {
			for j, v := range first[i].Data {
				if again[i].Data[j] != v {
					t.Fatalf("%s %s[%d]: %v, then %v", name, first[i].Name, j, v, again[i].Data[j])
				}
			}
		}
		if x[5] != float32(5%97)/50-1 {
			t.Fatalf("%s: the caller's input was changed", name)
		}
	}
}

// TestBatchSplitMatchesSingleImages: a batch shared out over the cores
// (each image through the whole network on one core) gives each image's
// outputs exactly as a pass of that image alone, at every batch size.
func TestBatchSplitMatchesSingleImages(t *testing.T) {
	net, _ := loadFixture(t, "torchvision_aux.pth", Options{NonStrict: true})
	const size = 3 * 96 * 96
	for _, batch := range []int{2, 3, 4} {
		x := make([]float32, batch*size)
		for i := range x {
			x[i] = float32((i*7)%113)/60 - 1
		}
		outs, err := net.WithoutAux().Forward(x, batch, 96, 96, false)
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < batch; b++ {
			one, err := net.WithoutAux().Forward(x[b*size:(b+1)*size], 1, 96, 96, false)
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range one[0].Data {
				if got := outs[0].Data[b*net.Classes+j]; got != v {
					t.Fatalf("batch %d image %d logit %d: %v in the batch, %v alone", batch, b, j, got, v)
				}
			}
		}
	}
}

// TestSteadyStatePassesRecycle: after the first pass, a pass takes its
// activations from the recycled buffers and allocates only its outputs
// and small bookkeeping (the activations at this size are about 4 MB).
func TestSteadyStatePassesRecycle(t *testing.T) {
	full, _ := loadFixture(t, "torchvision_aux.pth", Options{NonStrict: true})
	net := full.WithoutAux()
	x := make([]float32, 2*3*96*96)
	for run := 0; run < 3; run++ {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := net.Forward(x, 2, 96, 96, false); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if bytes := after.TotalAlloc - before.TotalAlloc; run > 0 && bytes > 1<<20 {
			t.Fatalf("pass %d allocated %d bytes: activations are not recycled", run+1, bytes)
		}
	}
}
