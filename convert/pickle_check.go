package convert

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// This file proves the writer's pickles well-formed without trusting the
// encoder: it decodes the finished bytes opcode by opcode, as Python's
// pickletools.genops does, and runs an abstract stack over them.

// pickleOp is one opcode of a pickle with its argument.
type pickleOp struct {
	pos  int    // offset of the opcode byte
	code byte   // the opcode
	arg  []byte // its argument: the payload of a length-prefixed opcode, "module\nname" for GLOBAL
}

// maxGlobalLine bounds a GLOBAL's module or name line.
const maxGlobalLine = 128

// nextOp decodes the opcode at b[pos] and returns it and the offset after
// it. Only opcodes the writer emits in dialect d are known; every length
// is checked against the bytes that remain.
func nextOp(b []byte, pos int, d dialect) (pickleOp, int, error) {
	op := pickleOp{pos: pos}
	if pos < 0 || pos >= len(b) {
		return op, 0, fmt.Errorf("pickle ends at byte %d without STOP", pos)
	}
	op.code = b[pos]
	at := pos + 1
	take := func(n uint64) ([]byte, error) {
		if n > uint64(len(b)-at) {
			return nil, fmt.Errorf("opcode 0x%02x at byte %d needs %d bytes, %d remain", op.code, pos, n, len(b)-at)
		}
		s := b[at : at+int(n)]
		at += int(n)
		return s, nil
	}
	var err error
	switch op.code {
	case opStop, opMark, opReduce, opBinPersID, opTuple, opEmptyTuple, opEmptyList, opAppends,
		opEmptyDict, opSetItems, opNone, opTrue, opFalse:
	case opProto:
		op.arg, err = take(1)
	case opBinInt:
		op.arg, err = take(4)
	case opLong1:
		var n []byte
		if n, err = take(1); err == nil {
			op.arg, err = take(uint64(n[0]))
		}
	case opBinUnicode:
		var n []byte
		if n, err = take(4); err == nil {
			op.arg, err = take(uint64(binary.LittleEndian.Uint32(n)))
		}
	case opGlobal:
		start := at
		for lines := 0; lines < 2 && err == nil; lines++ {
			end := at
			for end < len(b) && end-at <= maxGlobalLine && b[end] != '\n' {
				end++
			}
			if end >= len(b) || b[end] != '\n' {
				err = fmt.Errorf("GLOBAL at byte %d: unterminated or overlong line", pos)
				break
			}
			at = end + 1
		}
		if err == nil {
			op.arg = b[start : at-1]
		}
	case opLong4:
		if !d.long4 {
			return op, 0, fmt.Errorf("opcode LONG4 at byte %d: not read by torch's weights-only unpickler", pos)
		}
		var n []byte
		if n, err = take(4); err == nil {
			l := int32(binary.LittleEndian.Uint32(n))
			if l < 0 {
				return op, 0, fmt.Errorf("LONG4 at byte %d: negative length", pos)
			}
			op.arg, err = take(uint64(l))
		}
	case opBinFloat:
		if !d.binFloat {
			return op, 0, fmt.Errorf("opcode BINFLOAT at byte %d: not read by torch's weights-only unpickler", pos)
		}
		op.arg, err = take(8)
	case opBinBytes:
		if !d.binBytes {
			return op, 0, fmt.Errorf("opcode BINBYTES at byte %d: not read by torch's weights-only unpickler", pos)
		}
		var n []byte
		if n, err = take(4); err == nil {
			op.arg, err = take(uint64(binary.LittleEndian.Uint32(n)))
		}
	default:
		return op, 0, fmt.Errorf("opcode 0x%02x at byte %d is not one the writer emits", op.code, pos)
	}
	if err != nil {
		return op, 0, err
	}
	return op, at, nil
}

// pickleOps decodes a whole pickle, up to and including STOP.
func pickleOps(b []byte, d dialect) ([]pickleOp, error) {
	var ops []pickleOp
	for pos := 0; ; {
		if len(ops) >= maxPickleOps {
			return nil, fmt.Errorf("more than %d opcodes", maxPickleOps)
		}
		op, next, err := nextOp(b, pos, d)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
		if op.code == opStop {
			if next != len(b) {
				return nil, fmt.Errorf("%d bytes after STOP", len(b)-next)
			}
			return ops, nil
		}
		pos = next
	}
}

// slotKind is what the abstract stack knows of a value.
type slotKind uint8

const (
	kValue        slotKind = iota // a plain scalar or a built tensor
	kTuple                        // a tuple; special when it holds a special slot
	kList                         // a list
	kDict                         // a dict or OrderedDict
	kCallable                     // a callable global, before REDUCE
	kStorageClass                 // torch.<Type>Storage, inside a persistent id
	kStorage                      // what BINPERSID gives, inside _rebuild_tensor_v2's arguments
)

type slot struct {
	kind    slotKind
	special bool   // not plain data: only REDUCE or BINPERSID may consume it
	global  string // kCallable: "module\nname"
	items   []slot // kTuple: its items
}

// checkPickle proves that b is a pickle the writer may emit in dialect d:
// PROTO 2 first, only the writer's opcodes, every length inside the
// buffer, integers and strings in their canonical encodings, only the
// writer's globals, REDUCE calling only _rebuild_tensor_v2 (with a storage
// and five plain arguments) and OrderedDict (with none), persistent ids of
// the form ('storage', <StorageClass>, key, location, numel), every MARK
// closed, no pop below an open MARK, and exactly one plain value at STOP,
// which is the last byte. Bounded like the reader: maxPickleBytes and
// maxPickleOps.
func checkPickle(b []byte, d dialect) error {
	if len(b) > maxPickleBytes {
		return fmt.Errorf("pickle of %d bytes, more than %d", len(b), maxPickleBytes)
	}
	ops, err := pickleOps(b, d)
	if err != nil {
		return err
	}
	var stack []slot
	var marks []int
	floor := func() int {
		if len(marks) == 0 {
			return 0
		}
		return marks[len(marks)-1]
	}
	pop := func(op pickleOp) (slot, error) {
		if len(stack) <= floor() {
			return slot{}, fmt.Errorf("opcode 0x%02x at byte %d pops an empty stack (or below a MARK)", op.code, op.pos)
		}
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return s, nil
	}
	popMark := func(op pickleOp) ([]slot, error) {
		if len(marks) == 0 {
			return nil, fmt.Errorf("opcode 0x%02x at byte %d without a MARK", op.code, op.pos)
		}
		m := marks[len(marks)-1]
		marks = marks[:len(marks)-1]
		items := append([]slot(nil), stack[m:]...)
		stack = stack[:m]
		return items, nil
	}
	plain := func(op pickleOp, items ...slot) error {
		for _, it := range items {
			if it.special {
				return fmt.Errorf("opcode 0x%02x at byte %d uses a global, storage or persistent id as data", op.code, op.pos)
			}
		}
		return nil
	}
	for i, op := range ops {
		if (i == 0) != (op.code == opProto) {
			return fmt.Errorf("PROTO must be the first opcode and only the first (byte %d)", op.pos)
		}
		switch op.code {
		case opProto:
			if op.arg[0] != 2 {
				return fmt.Errorf("protocol %d, the writer writes 2", op.arg[0])
			}
		case opMark:
			marks = append(marks, len(stack))
		case opNone, opTrue, opFalse, opBinInt, opBinFloat, opBinBytes:
			stack = append(stack, slot{kind: kValue})
		case opLong1, opLong4:
			// the writer writes BININT within 32 bits and LONG1 below
			// 256 bytes; LONG1 of no bytes would be 0, which gnconv's
			// reader refuses
			if len(op.arg) == 0 || op.code == opLong1 && len(op.arg) <= 4 || op.code == opLong4 && len(op.arg) <= maxLong1 {
				return fmt.Errorf("integer of %d bytes at byte %d in a non-canonical opcode", len(op.arg), op.pos)
			}
			stack = append(stack, slot{kind: kValue})
		case opBinUnicode:
			if !utf8.Valid(op.arg) {
				return fmt.Errorf("BINUNICODE at byte %d is not valid UTF-8", op.pos)
			}
			stack = append(stack, slot{kind: kValue})
		case opGlobal:
			callable, ok := writerGlobals[string(op.arg)]
			if !ok {
				return fmt.Errorf("GLOBAL at byte %d is not one the writer emits", op.pos)
			}
			if callable {
				stack = append(stack, slot{kind: kCallable, special: true, global: string(op.arg)})
			} else {
				stack = append(stack, slot{kind: kStorageClass, special: true})
			}
		case opEmptyTuple:
			stack = append(stack, slot{kind: kTuple})
		case opTuple:
			items, err := popMark(op)
			if err != nil {
				return err
			}
			s := slot{kind: kTuple, items: items}
			for _, it := range items {
				s.special = s.special || it.special
			}
			stack = append(stack, s)
		case opEmptyList:
			stack = append(stack, slot{kind: kList})
		case opEmptyDict:
			stack = append(stack, slot{kind: kDict})
		case opAppends, opSetItems:
			items, err := popMark(op)
			if err != nil {
				return err
			}
			if err := plain(op, items...); err != nil {
				return err
			}
			if len(stack) <= floor() {
				return fmt.Errorf("opcode 0x%02x at byte %d has no container below its MARK", op.code, op.pos)
			}
			target := stack[len(stack)-1]
			if op.code == opAppends && target.kind != kList {
				return fmt.Errorf("APPENDS at byte %d on a non-list", op.pos)
			}
			if op.code == opSetItems {
				if target.kind != kDict {
					return fmt.Errorf("SETITEMS at byte %d on a non-dict", op.pos)
				}
				if len(items)%2 != 0 {
					return fmt.Errorf("SETITEMS at byte %d with an odd number of items", op.pos)
				}
				for k := 0; k < len(items); k += 2 {
					if items[k].kind == kList || items[k].kind == kDict {
						return fmt.Errorf("SETITEMS at byte %d with an unhashable key", op.pos)
					}
				}
			}
		case opBinPersID:
			pid, err := pop(op)
			if err != nil {
				return err
			}
			if pid.kind != kTuple || len(pid.items) != 5 || pid.items[1].kind != kStorageClass {
				return fmt.Errorf("BINPERSID at byte %d: not a storage id", op.pos)
			}
			if err := plain(op, pid.items[0], pid.items[2], pid.items[3], pid.items[4]); err != nil {
				return err
			}
			stack = append(stack, slot{kind: kStorage, special: true})
		case opReduce:
			args, err := pop(op)
			if err != nil {
				return err
			}
			fn, err := pop(op)
			if err != nil {
				return err
			}
			if fn.kind != kCallable || args.kind != kTuple {
				return fmt.Errorf("REDUCE at byte %d: not an allowed call", op.pos)
			}
			switch fn.global {
			case "collections\nOrderedDict":
				if len(args.items) != 0 {
					return fmt.Errorf("REDUCE at byte %d: OrderedDict called with arguments", op.pos)
				}
				stack = append(stack, slot{kind: kDict})
			case "torch._utils\n_rebuild_tensor_v2":
				if len(args.items) != 6 || args.items[0].kind != kStorage {
					return fmt.Errorf("REDUCE at byte %d: _rebuild_tensor_v2 without (storage, offset, size, stride, requires_grad, hooks)", op.pos)
				}
				if err := plain(op, args.items[1:]...); err != nil {
					return err
				}
				stack = append(stack, slot{kind: kValue})
			default:
				return fmt.Errorf("REDUCE at byte %d: not an allowed call", op.pos)
			}
		case opStop:
			if len(marks) != 0 {
				return fmt.Errorf("STOP with %d MARKs open", len(marks))
			}
			if len(stack) != 1 {
				return fmt.Errorf("STOP with %d values on the stack, want 1", len(stack))
			}
			return plain(op, stack[0])
		default:
			return fmt.Errorf("opcode 0x%02x at byte %d is not one the writer emits", op.code, op.pos)
		}
	}
	return fmt.Errorf("pickle without STOP")
}
