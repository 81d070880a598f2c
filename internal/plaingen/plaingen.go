// Package plaingen turns bytes into random plain values of the kinds
// convert's reader returns and its writer takes (convert.Dict, convert.Tuple,
// lists, strings, integers of any size, floats, bools, nil, bytes, small
// tensors), for the writer's fuzz target and interop test. It also
// compares such values by Python's equality of what a round trip keeps.
package plaingen

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"unicode/utf8"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/tensor"
)

// MaxDepth is convert's nesting bound (values deeper are refused).
const MaxDepth = 64

// Attack is the body of an integer whose little-endian bytes spell pickle
// opcodes that call posix.system: if a writer wrapped its LONG1 length,
// torch.load would run them.
var Attack = []byte("cposix\nsystem\n(X\x02\x00\x00\x00idtR.")

// Refusals says why torch's weights-only unpickler could not read a value
// back, so the writer must refuse it.
type Refusals struct {
	Float, Bytes, LongInt bool // BINFLOAT, BINBYTES, LONG4: not in the weights-only unpickler
	InvalidUTF8           bool // a string BINUNICODE cannot hold
	TooDeep               bool // nested more than MaxDepth
	BadTensor             bool // a tensor whose bytes do not match its shape
}

// WeightsOnly reports whether the weights-only writer must refuse.
func (r Refusals) WeightsOnly() bool {
	return r.Float || r.Bytes || r.LongInt || r.Any()
}

// Any reports whether every writer must refuse.
func (r Refusals) Any() bool { return r.InvalidUTF8 || r.TooDeep || r.BadTensor }

type source struct {
	b   []byte
	i   int
	ref Refusals
}

func (s *source) byte() byte {
	if s.i >= len(s.b) {
		return 0
	}
	c := s.b[s.i]
	s.i++
	return c
}

func (s *source) take(n int) []byte {
	if n > len(s.b)-s.i {
		n = len(s.b) - s.i
	}
	out := append([]byte{}, s.b[s.i:s.i+n]...)
	s.i += n
	return out
}

func (s *source) u64() uint64 {
	var v uint64
	for i := 0; i < 8; i++ {
		v = v<<8 | uint64(s.byte())
	}
	return v
}

var runes = []rune{'a', 'Z', '0', ' ', '\n', '\x00', '"', '\\', 'é', 'ß', '中', '€', '😀', '\u2028', '\ufffd'}

var dtypes = []tensor.DType{tensor.Float32, tensor.Float16, tensor.BFloat16, tensor.Float64,
	tensor.Int64, tensor.Int32, tensor.Int16, tensor.Int8, tensor.Uint8, tensor.Bool}

// Root is a checkpoint's top-level dict made from b: a small state dict
// under "state_dict" (so the reader finds one) and a random value under
// "value". It returns why the writers must refuse it, if they must.
func Root(b []byte) (*convert.Dict, Refusals) {
	s := &source{b: b}
	w := make([]float32, 3)
	sd := &convert.Dict{Keys: []interface{}{"fc.weight"}, Values: []interface{}{tensor.NewFloat32([]int{3}, w)}}
	v := s.value(1)
	return &convert.Dict{Keys: []interface{}{"state_dict", "value"}, Values: []interface{}{sd, v}}, s.ref
}

func (s *source) at(depth int) {
	if depth > MaxDepth {
		s.ref.TooDeep = true
	}
}

func (s *source) value(depth int) interface{} {
	s.at(depth)
	c := s.byte()
	if depth > 6 && c%17 >= 12 && c%17 <= 15 {
		c = 2 // containers only near the top
	}
	switch c % 17 {
	case 0:
		return nil
	case 1:
		return s.byte()&1 == 1
	case 2:
		return int(int8(s.byte()))
	case 3:
		return int(int64(s.u64()))
	case 4: // any size, either sign
		n := (int(s.byte())<<8 | int(s.byte())) % 700
		v := new(big.Int).SetBytes(s.take(n))
		if s.byte()&1 == 1 {
			v.Neg(v)
		}
		s.long(v)
		return v
	case 5: // the attack: opcodes in an integer's bytes, past 255 bytes
		body := bytes.Repeat(Attack, 256/len(Attack)+1+int(s.byte()%4))
		le := append([]byte{}, body...)
		for i, j := 0, len(le)-1; i < j; i, j = i+1, j-1 {
			le[i], le[j] = le[j], le[i]
		}
		v := new(big.Int).SetBytes(le) // little-endian bytes = body
		s.long(v)
		return v
	case 6:
		s.ref.Float = true
		return math.Float64frombits(s.u64())
	case 7:
		s.ref.Float = true
		return []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0.1, 1e300, 5e-324}[s.byte()%7]
	case 8:
		return s.str()
	case 9:
		str := string(s.take(int(s.byte() % 24)))
		if !utf8.ValidString(str) {
			s.ref.InvalidUTF8 = true
		}
		return str
	case 10:
		s.ref.Bytes = true
		return s.take(int(s.byte() % 40))
	case 11:
		return s.tensor()
	case 12:
		n := int(s.byte() % 5)
		t := convert.Tuple{}
		for i := 0; i < n; i++ {
			t = append(t, s.value(depth+1))
		}
		return t
	case 13:
		n := int(s.byte() % 5)
		l := []interface{}{}
		for i := 0; i < n; i++ {
			l = append(l, s.value(depth+1))
		}
		return l
	case 14:
		return s.dict(depth)
	case 15: // a chain of lists, deeper than the bound or not
		n := int(s.byte() % 80)
		var v interface{} = int(n)
		for i := n; i > 0; i-- {
			v = []interface{}{v}
		}
		s.at(depth + n)
		return v
	default:
		return "s"
	}
}

// long notes an integer of more than 255 bytes in two's complement (one
// sign bit more than the magnitude, for a negative v that of -v-1).
func (s *source) long(v *big.Int) {
	m := new(big.Int).Set(v)
	if m.Sign() < 0 {
		m.Neg(m).Sub(m, big.NewInt(1))
	}
	if m.BitLen()/8+1 > 255 {
		s.ref.LongInt = true
	}
}

func (s *source) str() string {
	n := int(s.byte() % 12)
	r := make([]rune, n)
	for i := range r {
		c := s.byte()
		if c < 128 && c >= 32 {
			r[i] = rune(c)
		} else {
			r[i] = runes[int(c)%len(runes)]
		}
	}
	return string(r)
}

func (s *source) tensor() *tensor.Tensor {
	dt := dtypes[int(s.byte())%len(dtypes)]
	rank := int(s.byte() % 4)
	shape := make([]int, rank)
	numel := 1
	for i := range shape {
		shape[i] = int(s.byte() % 4)
		numel *= shape[i]
	}
	raw := make([]byte, numel*dt.Size())
	copy(raw, s.take(len(raw)))
	if dt == tensor.Bool {
		for i := range raw {
			raw[i] &= 1
		}
	}
	if c := s.byte(); c == 0xff { // bytes that do not fit the shape
		raw = append(raw, 0)
		s.ref.BadTensor = true
	}
	return &tensor.Tensor{DType: dt, Shape: shape, Raw: raw}
}

// dict has keys distinct under Python's equality by construction.
func (s *source) dict(depth int) *convert.Dict {
	n := int(s.byte() % 6)
	d := &convert.Dict{}
	for i := 0; i < n; i++ {
		s.at(depth + 1)
		var k interface{}
		switch s.byte() % 5 {
		case 0:
			k = fmt.Sprintf("k%d", i) + s.str()
		case 1:
			k = 1000 + i // never 0 or 1, so never equal to a bool
		case 2:
			k = convert.Tuple{i, fmt.Sprintf("t%d", i)}
			s.at(depth + 2)
		case 3:
			if i == 0 {
				k = nil
			} else {
				k = -i
			}
		default:
			if i == 0 {
				k = s.byte()&1 == 1
			} else {
				k = fmt.Sprintf("b%d", i)
			}
		}
		d.Keys = append(d.Keys, k)
		d.Values = append(d.Values, s.value(depth+1))
	}
	return d
}

// Equal compares two plain values as a round trip must keep them: ints by
// value whatever their Go type, floats by bits (any NaN equals any NaN),
// nil and empty byte slices alike, dicts in order. It returns "" when they
// are equal, else where they differ.
func Equal(a, b interface{}) string { return equal(a, b, "root") }

func asInt(v interface{}) (*big.Int, bool) {
	switch x := v.(type) {
	case int:
		return big.NewInt(int64(x)), true
	case *big.Int:
		return x, x != nil
	}
	return nil, false
}

func equal(a, b interface{}, at string) string {
	if ia, ok := asInt(a); ok {
		if ib, ok := asInt(b); ok && ia.Cmp(ib) == 0 {
			return ""
		}
		return at + ": integers differ"
	}
	switch x := a.(type) {
	case nil:
		if b == nil {
			return ""
		}
	case bool:
		if y, ok := b.(bool); ok && x == y {
			return ""
		}
	case float64:
		if y, ok := b.(float64); ok && (math.Float64bits(x) == math.Float64bits(y) || math.IsNaN(x) && math.IsNaN(y)) {
			return ""
		}
	case string:
		if y, ok := b.(string); ok && x == y {
			return ""
		}
	case []byte:
		if y, ok := b.([]byte); ok && bytes.Equal(x, y) {
			return ""
		}
	case *tensor.Tensor:
		y, ok := b.(*tensor.Tensor)
		if ok && x.DType == y.DType && fmt.Sprint(x.Shape) == fmt.Sprint(y.Shape) && bytes.Equal(x.Raw, y.Raw) {
			return ""
		}
	case convert.Tuple:
		if y, ok := b.(convert.Tuple); ok {
			return equalList(x, y, at)
		}
	case []interface{}:
		if y, ok := b.([]interface{}); ok {
			return equalList(x, y, at)
		}
	case *convert.Dict:
		y, ok := b.(*convert.Dict)
		if !ok || len(x.Keys) != len(y.Keys) {
			break
		}
		for i := range x.Keys {
			p := fmt.Sprintf("%s{%d}", at, i)
			if d := equal(x.Keys[i], y.Keys[i], p+".key"); d != "" {
				return d
			}
			if d := equal(x.Values[i], y.Values[i], p); d != "" {
				return d
			}
		}
		return ""
	}
	return fmt.Sprintf("%s: a %T and a %T differ", at, a, b)
}

func equalList(x, y []interface{}, at string) string {
	if len(x) != len(y) {
		return fmt.Sprintf("%s: %d items, %d items", at, len(x), len(y))
	}
	for i := range x {
		if d := equal(x[i], y[i], fmt.Sprintf("%s[%d]", at, i)); d != "" {
			return d
		}
	}
	return ""
}
