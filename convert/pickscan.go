package convert

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxPickleOps bounds the opcodes of one pickle by default (Limits). A
// GoogLeNet state dict needs a few thousand.
const maxPickleOps = 4 << 20

// scanPickle is scanPickleWith under the default limits.
func scanPickle(b []byte) (int, error) { return scanPickleWith(b, DefaultLimits()) }

// Estimated bytes the unpickler (and the conversion to plain values)
// allocates per opcode, beyond the bytes the opcode carries: every opcode
// pushes or pops a stack slot; a MARK starts a new stack; empty containers
// and called globals build objects. The estimate is charged to
// Limits.PickleMemory before the pickle runs.
const (
	costOp     = 32
	costMark   = 320
	costDict   = 384
	costList   = 256
	costEmpty  = 128
	costTuple  = 192
	costCall   = 384
	costPersid = 192
	costGlobal = 192
	costMemo   = 64
	costString = 96
)

// scanPickleWith walks the opcodes of the pickle at the start of b
// without executing any of them and returns its length up to and
// including STOP.
//
// The unpickler allocates a buffer of whatever length an opcode announces
// before reading it; checking every announced length against the bytes
// that are really there first means a hostile file cannot make it allocate
// more than the file holds. The walk also holds the pickle to the limits
// that the unpickler does not check: opcodes, estimated memory, MARKs open
// at once, memo entries, integer lengths; and it refuses what Python's
// unpickler refuses and gopickle would accept: a memo slot read before it
// is set, strings that are not UTF-8.
func scanPickleWith(b []byte, lim Limits) (int, error) {
	lim = lim.withDefaults()
	pos := 0
	ops := 0
	var mem int64
	marks := 0
	var memo memoSet
	// decoding an integer costs the square of its length
	var intWork, maxIntWork = int64(0), 256 * int64(lim.IntBytes) * int64(lim.IntBytes)
	longInt := func(at int, n int64) error {
		intWork += n * n
		if intWork > maxIntWork {
			return limitErr("IntBytes", int64(lim.IntBytes), "pickle: integers too long to decode in all (at byte %d)", at)
		}
		return nil
	}
	need := func(n uint64) error {
		if n > uint64(len(b)-pos) {
			return truncated("pickle: opcode at byte %d needs %d bytes, %d remain", pos, n, len(b)-pos)
		}
		return nil
	}
	// line returns the line at pos, without its newline, and moves past it
	line := func() ([]byte, error) {
		for i := pos; i < len(b); i++ {
			if b[i] == '\n' {
				l := b[pos:i]
				pos = i + 1
				return l, nil
			}
		}
		return nil, truncated("pickle: unterminated line at byte %d", pos)
	}
	put := func(at int, idx uint64) error {
		if !memo.has(idx) {
			if memo.n >= lim.Memo {
				return limitErr("Memo", int64(lim.Memo), "pickle: more than %d memo entries", lim.Memo)
			}
			memo.add(idx)
			mem += costMemo
		}
		return nil
	}
	get := func(at int, idx uint64) error {
		if !memo.has(idx) {
			return fmt.Errorf("pickle: memo slot %d is read at byte %d before it is set", idx, at)
		}
		return nil
	}
	lineIndex := func(at int, l []byte) (uint64, error) {
		i, err := strconv.ParseUint(string(l), 10, 63)
		if err != nil {
			return 0, fmt.Errorf("pickle: malformed memo index at byte %d", at)
		}
		return i, nil
	}
	for {
		if pos >= len(b) {
			return 0, truncated("pickle: truncated (no STOP opcode)")
		}
		ops++
		if ops > lim.PickleOps {
			return 0, limitErr("PickleOps", int64(lim.PickleOps), "pickle: more than %d opcodes", lim.PickleOps)
		}
		if mem > lim.PickleMemory {
			return 0, limitErr("PickleMemory", lim.PickleMemory, "pickle: would build more than %d bytes of objects (at byte %d)", lim.PickleMemory, pos)
		}
		mem += costOp
		at := pos
		op := b[pos]
		pos++
		var fixed uint64
		var lenBytes int
		switch op {
		case '.': // STOP
			return pos, nil
		case '(': // MARK
			marks++
			mem += costMark
			if marks > lim.Depth {
				return 0, limitErr("Depth", int64(lim.Depth), "pickle: objects nested more than %d deep (MARKs open at byte %d)", lim.Depth, at)
			}
		case 't', 'l', 'd', 'e', 'u', '1', 0x90, 0x91: // consume a MARK
			if marks == 0 {
				return 0, fmt.Errorf("pickle: opcode 0x%02x at byte %d without a MARK", op, at)
			}
			marks--
			if op != '1' && op != 'e' && op != 'u' && op != 0x90 {
				mem += costTuple
			}
		case 0x85, 0x86, 0x87: // TUPLE1, 2, 3
			mem += costTuple
		case '}', 0x8f: // empty dict, set
			mem += costDict
		case ']':
			mem += costList
		case ')':
			mem += costEmpty
		case 'R', 0x81, 0x92: // calls, instances
			mem += costCall
		case 'Q', 'b': // persistent ids, BUILD
			mem += costPersid
		case '0', '2', 'N', 'a', 's', 0x88, 0x89, 0x97, 0x98:
		case 0x94: // MEMOIZE: the next index
			if err := put(at, uint64(memo.n)); err != nil {
				return 0, err
			}
		case 'F', 'S':
			l, err := line()
			if err != nil {
				return 0, err
			}
			mem += 2 * int64(len(l))
		case 'V', 'P':
			l, err := line()
			if err != nil {
				return 0, err
			}
			mem += 2*int64(len(l)) + costCall
		case 'I', 'L':
			l, err := line()
			if err != nil {
				return 0, err
			}
			if len(l) > lim.IntBytes*5/2+2 {
				return 0, limitErr("IntBytes", int64(lim.IntBytes), "pickle: an integer of %d digits at byte %d, more than %d", len(l), at, lim.IntBytes*5/2+2)
			}
			if err := longInt(at, int64(len(l))*2/5); err != nil {
				return 0, err
			}
		case 'g', 'p': // GET, PUT with a decimal index
			l, err := line()
			if err != nil {
				return 0, err
			}
			i, err := lineIndex(at, l)
			if err != nil {
				return 0, err
			}
			if op == 'g' {
				err = get(at, i)
			} else {
				err = put(at, i)
			}
			if err != nil {
				return 0, err
			}
		case 'c', 'i': // GLOBAL, INST: two lines, read as UTF-8
			for k := 0; k < 2; k++ {
				l, err := line()
				if err != nil {
					return 0, err
				}
				if !utf8.Valid(l) {
					return 0, fmt.Errorf("pickle: a global's name at byte %d is not UTF-8", at)
				}
				mem += 2 * int64(len(l))
			}
			mem += costGlobal
			if op == 'i' {
				if marks == 0 {
					return 0, fmt.Errorf("pickle: INST at byte %d without a MARK", at)
				}
				marks--
			}
		case 'o': // OBJ
			if marks == 0 {
				return 0, fmt.Errorf("pickle: OBJ at byte %d without a MARK", at)
			}
			marks--
			mem += costCall
		case 0x93: // STACK_GLOBAL
			mem += costGlobal
		case 'K', 0x80, 0x82: // one-byte argument
			fixed = 1
		case 'h', 'q': // BINGET, BINPUT
			if err := need(1); err != nil {
				return 0, err
			}
			var err error
			if op == 'h' {
				err = get(at, uint64(b[pos]))
			} else {
				err = put(at, uint64(b[pos]))
			}
			if err != nil {
				return 0, err
			}
			fixed = 1
		case 'M', 0x83:
			fixed = 2
		case 'J', 0x84:
			fixed = 4
		case 'j', 'r': // LONG_BINGET, LONG_BINPUT
			if err := need(4); err != nil {
				return 0, err
			}
			i := uint64(binary.LittleEndian.Uint32(b[pos:]))
			var err error
			if op == 'j' {
				err = get(at, i)
			} else {
				err = put(at, i)
			}
			if err != nil {
				return 0, err
			}
			fixed = 4
		case 'G':
			fixed = 8
		case 0x95: // FRAME: its payload is inline opcodes, scanned as they come
			fixed = 8
		case 'U', 'C', 0x8a, 0x8c: // one-byte length, then data
			lenBytes = 1
		case 'T', 'X', 'B', 0x8b: // four-byte length, then data
			lenBytes = 4
		case 0x8d, 0x8e, 0x96: // eight-byte length, then data
			lenBytes = 8
		default:
			return 0, fmt.Errorf("pickle: unknown opcode 0x%02x at byte %d", op, at)
		}
		if fixed > 0 {
			if err := need(fixed); err != nil {
				return 0, err
			}
			if op == 0x95 {
				n := binary.LittleEndian.Uint64(b[pos:])
				if err := need(8 + n); err != nil {
					return 0, fmt.Errorf("pickle: frame overruns the data: %w", err)
				}
				mem += int64(n)
			}
			pos += int(fixed)
		}
		if lenBytes > 0 {
			if err := need(uint64(lenBytes)); err != nil {
				return 0, err
			}
			var n uint64
			switch lenBytes {
			case 1:
				n = uint64(b[pos])
			case 4:
				n = uint64(binary.LittleEndian.Uint32(b[pos:]))
				if op == 'T' && n >= 1<<31 { // BINSTRING's length is signed
					return 0, fmt.Errorf("pickle: negative string length at byte %d", at)
				}
			case 8:
				n = binary.LittleEndian.Uint64(b[pos:])
			}
			pos += lenBytes
			if err := need(n); err != nil {
				return 0, err
			}
			data := b[pos : pos+int(n)]
			switch op {
			case 0x8b: // LONG4
				if n > uint64(lim.IntBytes) {
					return 0, limitErr("IntBytes", int64(lim.IntBytes), "pickle: an integer of %d bytes at byte %d, more than %d", n, at, lim.IntBytes)
				}
				if err := longInt(at, int64(n)); err != nil {
					return 0, err
				}
			case 0x8a: // LONG1
				if err := longInt(at, int64(n)); err != nil {
					return 0, err
				}
			case 'X', 0x8c, 0x8d: // UTF-8, surrogates allowed as Python's surrogatepass does
				if !validUTF8Surrogates(data) {
					return 0, fmt.Errorf("pickle: the string at byte %d is not UTF-8", at)
				}
			case 'T', 'U': // byte strings, which torch.load decodes as UTF-8
				if !utf8.Valid(data) {
					return 0, fmt.Errorf("pickle: the string at byte %d is not UTF-8", at)
				}
			}
			// the unpickler reads the data into a buffer and copies it
			mem += 2*int64(n) + costString
			pos += int(n)
		}
	}
}

// validUTF8Surrogates reports whether b is UTF-8 as Python decodes it with
// the "surrogatepass" error handler: valid UTF-8, where the three-byte
// encodings of the surrogates U+D800..U+DFFF are accepted too.
func validUTF8Surrogates(b []byte) bool {
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			b = b[1:]
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			if len(b) >= 3 && b[0] == 0xed && b[1] >= 0xa0 && b[1] <= 0xbf && b[2] >= 0x80 && b[2] <= 0xbf {
				size = 3
			} else {
				return false
			}
		}
		b = b[size:]
	}
	return true
}

// memoSet is the set of memo indices a pickle has set: a bitmap for the
// small indices picklers use, a map for the others.
type memoSet struct {
	dense  []uint64
	sparse map[uint64]struct{}
	n      int
}

const memoDense = 1 << 24

func (m *memoSet) has(i uint64) bool {
	if i < memoDense {
		w := i / 64
		return w < uint64(len(m.dense)) && m.dense[w]&(1<<(i%64)) != 0
	}
	_, ok := m.sparse[i]
	return ok
}

func (m *memoSet) add(i uint64) {
	m.n++
	if i < memoDense {
		w := int(i / 64)
		if w >= len(m.dense) {
			m.dense = append(m.dense, make([]uint64, max(w+1-len(m.dense), len(m.dense)))...)
		}
		m.dense[w] |= 1 << (i % 64)
		return
	}
	if m.sparse == nil {
		m.sparse = map[uint64]struct{}{}
	}
	m.sparse[i] = struct{}{}
}

// truncatedError is a pickle that runs past the end of its bytes.
type truncatedError struct{ msg string }

func (e *truncatedError) Error() string { return e.msg }

func truncated(format string, args ...interface{}) error {
	return &truncatedError{fmt.Sprintf(format, args...)}
}
