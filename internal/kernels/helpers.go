package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parallel's chunks run on helper goroutines that outlive the call: a
// forward pass of one image makes hundreds of Parallel calls, a few tens
// of microseconds apart, and a goroutine started for each chunk wakes a
// parked thread each time (a futex call, and on a virtual machine an
// interrupt through the host), which can take longer than the chunk
// itself. A helper that has run a chunk spins for helperSpin looking
// for the next one, so the chunks of one pass find it awake, then parks
// until woken.
const helperSpin = 200 * time.Microsecond

// chunkTask is one chunk of a Parallel call given to a helper.
type chunkTask struct {
	f      func(lo, hi int)
	lo, hi int
	call   *parallelCall
}

// parallelCall is what the caller of Parallel waits on: the chunks given
// to helpers and not yet done, and the first panic one of them raised.
type parallelCall struct {
	pending  atomic.Int32
	panicked atomic.Pointer[chunkPanic]
}

// chunkPanic carries a helper's panic value to the caller, which raises it
// again, so that a panic in a chunk reaches whoever recovers the call (the
// interpreter turns a malformed model's panic into an error).
type chunkPanic struct{ value any }

// helper is one helper goroutine: the chunk given to it, whether it is
// running one (a Parallel called from inside a chunk must not give its
// own helper a chunk it would wait for) and whether it is parked (woken
// by a send on wake).
type helper struct {
	task   atomic.Pointer[chunkTask]
	busy   atomic.Bool
	parked atomic.Bool
	wake   chan struct{}
}

var (
	helpersMu sync.Mutex
	// helperList grows to GOMAXPROCS-1 helpers, never shrinks (a
	// parked helper costs a goroutine)
	helperList atomic.Pointer[[]*helper]
)

// helpersFor returns at least n helpers, starting those missing.
func helpersFor(n int) []*helper {
	if hs := helperList.Load(); hs != nil && len(*hs) >= n {
		return *hs
	}
	helpersMu.Lock()
	defer helpersMu.Unlock()
	var hs []*helper
	if p := helperList.Load(); p != nil {
		hs = *p
	}
	for len(hs) < n {
		h := &helper{wake: make(chan struct{}, 1)}
		go h.loop()
		hs = append(hs[:len(hs):len(hs)], h)
	}
	helperList.Store(&hs)
	return hs
}

// give hands t to h, and reports false if h is running a chunk or has
// one waiting (Parallel then starts a goroutine for t).
func (h *helper) give(t *chunkTask) bool {
	if h.busy.Load() || !h.task.CompareAndSwap(nil, t) {
		return false
	}
	if h.parked.CompareAndSwap(true, false) {
		h.wake <- struct{}{}
	}
	return true
}

// loop runs the chunks given to h: spinning for helperSpin after each,
// then parked until the next.
func (h *helper) loop() {
	for {
		idleSince := time.Now()
		for spins := 0; ; spins++ {
			if h.task.Load() != nil {
				t := h.task.Swap(nil)
				h.busy.Store(true)
				runChunk(t)
				h.busy.Store(false)
				idleSince, spins = time.Now(), 0
				continue
			}
			// the clock is read every few hundred loads, not on each
			if spins%256 == 255 {
				if time.Since(idleSince) > helperSpin {
					break
				}
				runtime.Gosched() // others runnable on this P go first
			}
		}
		// park: say so, then look once more, so that a chunk given
		// between the last look and the flag is not left waiting
		h.parked.Store(true)
		if h.task.Load() != nil && h.parked.CompareAndSwap(true, false) {
			continue
		}
		<-h.wake
	}
}

// runChunk runs one chunk and tells its call, passing a panic on.
func runChunk(t *chunkTask) {
	defer func() {
		if p := recover(); p != nil {
			t.call.panicked.CompareAndSwap(nil, &chunkPanic{p})
		}
		t.call.pending.Add(-1)
	}()
	t.f(t.lo, t.hi)
}

// wait returns once every chunk given out is done, raising again the
// first panic one of them raised.
func (c *parallelCall) wait() {
	for spins := 0; c.pending.Load() > 0; spins++ {
		if spins%64 == 63 {
			runtime.Gosched()
		}
	}
	if p := c.panicked.Load(); p != nil {
		panic(p.value)
	}
}

// runChunks gives the chunks [bounds[i], bounds[i+1]) but the last to
// helpers (or to goroutines of their own where a helper is busy), runs
// the last on the calling goroutine and returns when all are done.
func runChunks(f func(lo, hi int), bounds []int) {
	call := &parallelCall{}
	hs := helpersFor(len(bounds) - 2)
	for i := 0; i+2 < len(bounds); i++ {
		t := &chunkTask{f: f, lo: bounds[i], hi: bounds[i+1], call: call}
		call.pending.Add(1)
		if !hs[i].give(t) {
			go runChunk(t)
		}
	}
	last := &chunkTask{f: f, lo: bounds[len(bounds)-2], hi: bounds[len(bounds)-1], call: call}
	call.pending.Add(1)
	runChunk(last)
	call.wait()
}
