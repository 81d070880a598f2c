// Package tensor holds the data that flows between gnconv's packages: dense
// tensors in their original dtype and ordered state dicts.
package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// DType is a tensor element type, named as torch names it.
type DType int

const (
	Float32 DType = iota + 1
	Float16
	BFloat16
	Float64
	Int64
	Int32
	Int16
	Int8
	Uint8
	Bool
)

var dtypeInfo = map[DType]struct {
	name    string
	size    int
	storage string // torch's legacy typed-storage class name
}{
	Float32:  {"float32", 4, "FloatStorage"},
	Float16:  {"float16", 2, "HalfStorage"},
	BFloat16: {"bfloat16", 2, "BFloat16Storage"},
	Float64:  {"float64", 8, "DoubleStorage"},
	Int64:    {"int64", 8, "LongStorage"},
	Int32:    {"int32", 4, "IntStorage"},
	Int16:    {"int16", 2, "ShortStorage"},
	Int8:     {"int8", 1, "CharStorage"},
	Uint8:    {"uint8", 1, "ByteStorage"},
	Bool:     {"bool", 1, "BoolStorage"},
}

func (d DType) String() string {
	if info, ok := dtypeInfo[d]; ok {
		return info.name
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// Size is the number of bytes of one element.
func (d DType) Size() int { return dtypeInfo[d].size }

// StorageClass is the name of torch's typed storage class for d
// ("FloatStorage"), the name a checkpoint uses to tag its storages.
func (d DType) StorageClass() string { return dtypeInfo[d].storage }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float16 || d == BFloat16 || d == Float64
}

// dtypeByStorage maps torch's typed storage class names to dtypes.
var dtypeByStorage = func() map[string]DType {
	m := map[string]DType{}
	for d, info := range dtypeInfo {
		m[info.storage] = d
	}
	return m
}()

// DTypeOfStorage returns the dtype of torch's typed storage class name.
func DTypeOfStorage(class string) (DType, bool) {
	d, ok := dtypeByStorage[class]
	return d, ok
}

// DTypeOfName returns the dtype of a torch dtype attribute (torch.half).
func DTypeOfName(name string) (DType, bool) {
	d, ok := dtypeByName[name]
	return d, ok
}

// dtypeByName maps torch's dtype attribute names (torch.float32, torch.half,
// ...) to dtypes.
var dtypeByName = map[string]DType{
	"float32": Float32, "float": Float32,
	"float16": Float16, "half": Float16,
	"bfloat16": BFloat16,
	"float64":  Float64, "double": Float64,
	"int64": Int64, "long": Int64,
	"int32": Int32, "int": Int32,
	"int16": Int16, "short": Int16,
	"int8":  Int8,
	"uint8": Uint8,
	"bool":  Bool,
}

// Tensor is a dense, contiguous (row-major) tensor in its original dtype.
// Raw holds the little-endian bytes exactly as torch stored them, so a
// tensor can be written back bit for bit.
type Tensor struct {
	DType DType
	Shape []int
	Raw   []byte

	f32 []float32
}

// NewFloat32 returns a float32 tensor holding data (not copied).
func NewFloat32(shape []int, data []float32) *Tensor {
	var raw []byte
	if len(data) > 0 {
		raw = unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data))
	}
	return &Tensor{DType: Float32, Shape: append([]int(nil), shape...), Raw: raw, f32: data}
}

// Numel is the number of elements.
func (t *Tensor) Numel() int {
	n := 1
	for _, s := range t.Shape {
		n *= s
	}
	return n
}

// Float32 returns the values as float32. Floating types convert exactly
// except float64, which rounds; integer and bool tensors convert by value.
// For float32 tensors the slice aliases Raw; callers must not modify it.
func (t *Tensor) Float32() []float32 {
	if t.f32 != nil || t.Numel() == 0 {
		return t.f32
	}
	n := t.Numel()
	if t.DType == Float32 && NativeLittleEndian && uintptr(unsafe.Pointer(&t.Raw[0]))%4 == 0 {
		t.f32 = unsafe.Slice((*float32)(unsafe.Pointer(&t.Raw[0])), n)
		return t.f32
	}
	out := make([]float32, n)
	r := t.Raw
	le := binary.LittleEndian
	for i := range out {
		switch t.DType {
		case Float32:
			out[i] = math.Float32frombits(le.Uint32(r[4*i:]))
		case Float16:
			out[i] = HalfToFloat32(le.Uint16(r[2*i:]))
		case BFloat16:
			out[i] = math.Float32frombits(uint32(le.Uint16(r[2*i:])) << 16)
		case Float64:
			out[i] = float32(math.Float64frombits(le.Uint64(r[8*i:])))
		case Int64:
			out[i] = float32(int64(le.Uint64(r[8*i:])))
		case Int32:
			out[i] = float32(int32(le.Uint32(r[4*i:])))
		case Int16:
			out[i] = float32(int16(le.Uint16(r[2*i:])))
		case Int8:
			out[i] = float32(int8(r[i]))
		case Uint8:
			out[i] = float32(r[i])
		case Bool:
			if r[i] != 0 {
				out[i] = 1
			}
		}
	}
	t.f32 = out
	return out
}

// Float64 returns the values as float64 (exact for every dtype but int64
// beyond 2^53).
func (t *Tensor) Float64() []float64 {
	n := t.Numel()
	out := make([]float64, n)
	if t.DType == Float64 {
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Raw[8*i:]))
		}
		return out
	}
	if t.DType == Int64 {
		for i := range out {
			out[i] = float64(int64(binary.LittleEndian.Uint64(t.Raw[8*i:])))
		}
		return out
	}
	for i, v := range t.Float32() {
		out[i] = float64(v)
	}
	return out
}

// Int64 returns the values of an integer or bool tensor.
func (t *Tensor) Int64() []int64 {
	n := t.Numel()
	out := make([]int64, n)
	if t.DType == Int64 {
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(t.Raw[8*i:]))
		}
		return out
	}
	for i, v := range t.Float64() {
		out[i] = int64(v)
	}
	return out
}

// HalfToFloat32 converts IEEE 754 binary16 bits to float32, exactly.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: renormalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// NativeLittleEndian reports whether this machine stores numbers
// little-endian, as checkpoints and ONNX files do: their bytes can then be
// read as numbers in place.
var NativeLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// ShapeString formats a shape as torch prints it: [64, 3, 7, 7].
func ShapeString(shape []int) string {
	s := "["
	for i, d := range shape {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(d)
	}
	return s + "]"
}

// StateDict maps parameter and buffer names to tensors, in file order.
type StateDict struct {
	Names   []string
	Tensors map[string]*Tensor
}

// NewStateDict returns an empty state dict.
func NewStateDict() *StateDict { return &StateDict{Tensors: map[string]*Tensor{}} }

// Set adds or replaces a tensor; a new name goes last.
func (sd *StateDict) Set(name string, t *Tensor) {
	if _, ok := sd.Tensors[name]; !ok {
		sd.Names = append(sd.Names, name)
	}
	sd.Tensors[name] = t
}

// Len is the number of entries.
func (sd *StateDict) Len() int { return len(sd.Names) }
