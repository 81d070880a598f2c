package kernels

import "sync"

// Buffers recycles float32 buffers between the layers of forward passes,
// so that steady-state passes neither allocate nor clear activations, and
// a layer's output goes where the last freed activation was: memory still
// in cache, rather than a buffer of its own that a whole pass has evicted
// since it was last written. Get returns a buffer of the length asked for
// with undefined contents; Put hands one back once nothing reads it. Safe
// for concurrent use.
type Buffers struct {
	mu   sync.Mutex
	free [][]float32 // most recently freed last, each at full capacity
}

// Get returns a buffer of n values: the most recently freed one that
// holds n without wasting more than three quarters of itself, or a new
// one.
func (b *Buffers) Get(n int) []float32 {
	b.mu.Lock()
	for i := len(b.free) - 1; i >= 0; i-- {
		if c := cap(b.free[i]); c >= n && c <= 4*n {
			buf := b.free[i]
			b.free = append(b.free[:i], b.free[i+1:]...)
			b.mu.Unlock()
			return buf[:n]
		}
	}
	b.mu.Unlock()
	return make([]float32, n)
}

// Put hands buf back for a later Get.
func (b *Buffers) Put(buf []float32) {
	if cap(buf) == 0 {
		return
	}
	b.mu.Lock()
	b.free = append(b.free, buf[:cap(buf)])
	b.mu.Unlock()
}

// BufferSets keeps one Buffers for each share of a batch (SplitBatch), so
// that a share's activations are recycled on the core that last wrote
// them rather than handed between cores. Safe for concurrent use.
type BufferSets struct {
	mu   sync.Mutex
	sets []*Buffers
}

// For returns share's Buffers.
func (b *BufferSets) For(share int) *Buffers {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.sets) <= share {
		b.sets = append(b.sets, &Buffers{})
	}
	return b.sets[share]
}

// scratch recycles the kernels' working buffers (Winograd's transformed
// planes, the pools' intermediate planes): a Buffers, not a sync.Pool,
// which every garbage collection empties (the interpreter allocates
// enough to collect often, and megabytes of buffers made anew each time
// cost more than the kernels save).
var scratch Buffers

// getScratch is a buffer of n values with undefined contents;
// putScratch hands it back.
func getScratch(n int) []float32 { return scratch.Get(n) }

func putScratch(b []float32) { scratch.Put(b) }
