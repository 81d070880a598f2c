package convert

import "fmt"

// Limits bounds what reading one checkpoint may cost. A checkpoint is
// untrusted input: each budget below is charged as the file is read, and
// a file that exceeds one is refused with an error naming the budget,
// before the work or the allocation it would cost is done. The defaults
// (DefaultLimits) are far above what any GoogLeNet checkpoint needs and
// keep a hostile file's cost within a few hundred megabytes; a zero field
// means its default. See docs/security.md.
type Limits struct {
	// PickleBytes bounds one pickle (data.pkl, or each pickle of a
	// legacy file). Default 64 MiB.
	PickleBytes int64
	// PickleOps bounds the opcodes of one pickle. Default 4Mi.
	PickleOps int
	// PickleMemory bounds what unpickling one pickle may build, as
	// estimated opcode by opcode before any of it runs (a MARK, an empty
	// dict, a string and its copies each cost what they allocate), so it
	// is proportional to the pickle's size. Default 512 MiB.
	PickleMemory int64
	// Depth bounds nesting: MARKs open at once, and objects within
	// objects. Default 160.
	Depth int
	// Memo bounds the pickle memo's entries. Default 1Mi.
	Memo int
	// IntBytes bounds an integer's encoding: LONG4 at most this many
	// bytes, a text INT or LONG at most 2.5 times as many digits; and, as
	// decoding a long integer costs the square of its length, the squares
	// of all the integers' lengths add up to at most 256 times its square.
	// Default 2048 (a 16384-bit integer); torch writes none this long.
	IntBytes int
	// Objects bounds the records and sets one pickle builds, the state
	// entries a repeated BUILD merges, and the entries walked in a whole
	// model's module tree. Default 1Mi.
	Objects int
	// Modules bounds a whole model's modules (counted along every path
	// that reaches them) and ModuleDepth their nesting. Defaults 64Ki, 48.
	Modules     int
	ModuleDepth int
	// DataBytes bounds the tensor data of one file: every storage read
	// (inflated, when a zip record is deflated) and every copy made to
	// lay out a strided view, together. The budget is DataRatio times the
	// file's size plus 64 MiB, and never more than DataBytes. Defaults 1
	// GiB and 16.
	DataBytes int64
	DataRatio int64
	// BroadcastElements bounds a view with more elements than its
	// storage (an expanded tensor). Default 16Mi.
	BroadcastElements int
}

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{
		PickleBytes:       maxPickleBytes,
		PickleOps:         maxPickleOps,
		PickleMemory:      512 << 20,
		Depth:             maxReadDepth,
		Memo:              1 << 20,
		IntBytes:          2048,
		Objects:           1 << 20,
		Modules:           1 << 16,
		ModuleDepth:       48,
		DataBytes:         1 << 30,
		DataRatio:         16,
		BroadcastElements: maxBroadcastElements,
	}
}

// Scaled returns the limits with every budget multiplied by k (k >= 1),
// the way to let a trusted, unusually large file through.
func (l Limits) Scaled(k int) Limits {
	l = l.withDefaults()
	if k <= 1 {
		return l
	}
	mul := func(v int64) int64 {
		if v > (1<<62)/int64(k) {
			return 1 << 62
		}
		return v * int64(k)
	}
	muli := func(v int) int { return int(mul(int64(v))) }
	l.PickleBytes = mul(l.PickleBytes)
	l.PickleOps = muli(l.PickleOps)
	l.PickleMemory = mul(l.PickleMemory)
	l.Depth = muli(l.Depth)
	l.Memo = muli(l.Memo)
	l.IntBytes = muli(l.IntBytes)
	l.Objects = muli(l.Objects)
	l.Modules = muli(l.Modules)
	l.ModuleDepth = muli(l.ModuleDepth)
	l.DataBytes = mul(l.DataBytes)
	l.DataRatio = mul(l.DataRatio)
	l.BroadcastElements = muli(l.BroadcastElements)
	return l
}

// withDefaults fills the zero fields with the defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	seti := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.PickleBytes, d.PickleBytes)
	seti(&l.PickleOps, d.PickleOps)
	set(&l.PickleMemory, d.PickleMemory)
	seti(&l.Depth, d.Depth)
	seti(&l.Memo, d.Memo)
	seti(&l.IntBytes, d.IntBytes)
	seti(&l.Objects, d.Objects)
	seti(&l.Modules, d.Modules)
	seti(&l.ModuleDepth, d.ModuleDepth)
	set(&l.DataBytes, d.DataBytes)
	set(&l.DataRatio, d.DataRatio)
	seti(&l.BroadcastElements, d.BroadcastElements)
	return l
}

// LimitError reports a file that exceeds one of the Limits. It wraps
// ErrFormat.
type LimitError struct {
	Limit string // the Limits field
	Max   int64  // its value
	What  string // what exceeded it, the limit's value included
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s (limit %s)", e.What, e.Limit)
}

func (e *LimitError) Unwrap() error { return ErrFormat }

func limitErr(limit string, max int64, format string, args ...interface{}) error {
	return &LimitError{Limit: limit, What: fmt.Sprintf(format, args...), Max: max}
}

// dataBudget is the DataBytes budget of one file.
type dataBudget struct {
	left, max int64
}

func newDataBudget(l Limits, size int64) *dataBudget {
	max := l.DataBytes
	if size >= 0 && size < (max-64<<20)/l.DataRatio {
		max = size*l.DataRatio + 64<<20
	}
	return &dataBudget{left: max, max: max}
}

// take charges n bytes of tensor data.
func (b *dataBudget) take(n int64, what string) error {
	if n < 0 || n > b.left {
		return limitErr("DataBytes", b.max, "more than %d bytes of tensor data (at %s)", b.max, what)
	}
	b.left -= n
	return nil
}
