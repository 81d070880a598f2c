package convert

import (
	"encoding/binary"
	"fmt"
)

// maxPickleOps bounds the opcodes of one pickle. A GoogLeNet state dict
// needs a few thousand; the bound keeps a hostile pickle's work small.
const maxPickleOps = 4 << 20

// scanPickle walks the opcodes of the pickle at the start of b without
// executing any of them and returns its length up to and including STOP.
//
// The unpickler allocates a buffer of whatever length an opcode announces
// before reading it; checking every announced length against the bytes
// that are really there first means a hostile file cannot make it allocate
// more than the file holds.
func scanPickle(b []byte) (int, error) {
	pos := 0
	ops := 0
	need := func(n uint64) error {
		if n > uint64(len(b)-pos) {
			return fmt.Errorf("pickle: opcode at byte %d needs %d bytes, %d remain", pos, n, len(b)-pos)
		}
		return nil
	}
	line := func() error {
		for i := pos; i < len(b); i++ {
			if b[i] == '\n' {
				pos = i + 1
				return nil
			}
		}
		return fmt.Errorf("pickle: unterminated line at byte %d", pos)
	}
	for {
		if pos >= len(b) {
			return 0, fmt.Errorf("pickle: truncated (no STOP opcode)")
		}
		ops++
		if ops > maxPickleOps {
			return 0, fmt.Errorf("pickle: more than %d opcodes", maxPickleOps)
		}
		op := b[pos]
		pos++
		var fixed uint64
		var lenBytes int
		switch op {
		case '.': // STOP
			return pos, nil
		case '(', '0', '1', '2', 'N', 'Q', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 't', ')', 'u',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
		case 'F', 'I', 'L', 'P', 'S', 'V', 'g', 'p':
			if err := line(); err != nil {
				return 0, err
			}
		case 'c', 'i': // GLOBAL, INST: two lines
			if err := line(); err != nil {
				return 0, err
			}
			if err := line(); err != nil {
				return 0, err
			}
		case 'K', 'h', 'q', 0x80, 0x82: // one-byte argument
			fixed = 1
		case 'M', 0x83:
			fixed = 2
		case 'J', 'j', 'r', 0x84:
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
			return 0, fmt.Errorf("pickle: unknown opcode 0x%02x at byte %d", op, pos-1)
		}
		if fixed > 0 {
			if err := need(fixed); err != nil {
				return 0, err
			}
			if op == 0x95 {
				if err := need(8 + binary.LittleEndian.Uint64(b[pos:])); err != nil {
					return 0, fmt.Errorf("pickle: frame overruns the data: %w", err)
				}
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
					return 0, fmt.Errorf("pickle: negative string length at byte %d", pos-1)
				}
			case 8:
				n = binary.LittleEndian.Uint64(b[pos:])
			}
			pos += lenBytes
			if err := need(n); err != nil {
				return 0, err
			}
			pos += int(n)
		}
	}
}
