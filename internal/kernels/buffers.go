package kernels

import "sync"

// Buffers recycles float32 buffers between the layers of forward passes,
// so that steady-state passes neither allocate nor clear activations. Get
// returns a buffer of the length asked for with undefined contents; Put
// hands one back once nothing reads it. Safe for concurrent use.
type Buffers struct {
	mu   sync.Mutex
	free map[int][][]float32
}

// Get returns a buffer of n values, recycled when one of that length is
// free.
func (b *Buffers) Get(n int) []float32 {
	b.mu.Lock()
	if l := b.free[n]; len(l) > 0 {
		buf := l[len(l)-1]
		b.free[n] = l[:len(l)-1]
		b.mu.Unlock()
		return buf
	}
	b.mu.Unlock()
	return make([]float32, n)
}

// Put hands buf back for a later Get of its length.
func (b *Buffers) Put(buf []float32) {
	if len(buf) == 0 {
		return
	}
	b.mu.Lock()
	if b.free == nil {
		b.free = map[int][][]float32{}
	}
	b.free[len(buf)] = append(b.free[len(buf)], buf)
	b.mu.Unlock()
}
