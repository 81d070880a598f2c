package convert

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The header's JSON has one fixed structure: an object whose values are
// tensor entries ({"dtype": string, "shape": [naturals], "data_offsets":
// [natural, natural]}) and at most one "__metadata__" (an object of
// strings, or null). It is parsed as that structure by a small scanner
// rather than by a generic JSON decoder, for three reasons: a value of
// the wrong kind is refused at its first byte, never walked (so nesting
// cannot cost anything); a key given twice is seen (encoding/json keeps
// the last, other readers the first); and a string escape is decoded as
// the reference implementation decodes it (half a surrogate pair is an
// error, where encoding/json would read U+FFFD and make two names one).
// encoding/json's token API is also some ten times slower, which a header
// of a million small entries turns into seconds.

// parseSafetensorsHeader parses the header's JSON. The header must be
// UTF-8 and start with its brace (the reference's rules); a key given
// twice, at any level, is refused, and so is a field the format does not
// have. Whitespace may follow the object (the writer's padding), nothing
// else.
func parseSafetensorsHeader(hdr []byte, lim Limits) (*stHeader, error) {
	if !utf8.Valid(hdr) {
		return nil, formatErr("the safetensors header is not UTF-8")
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, formatErr("the safetensors header does not start with {")
	}
	s := &stScanner{b: hdr}
	h := &stHeader{}
	seen := map[string]bool{}
	s.pos++
	err := s.members(func(k string) error {
		if seen[k] {
			return formatErr("the safetensors header names %s twice", stQuote(k))
		}
		seen[k] = true
		if len(seen)+len(h.metadata) > lim.Objects {
			return limitErr("Objects", int64(lim.Objects), "a safetensors header of more than %d entries", lim.Objects)
		}
		if k == safetensorsMetadataKey {
			m, err := s.metadata(len(seen), lim)
			h.metadata = m
			return err
		}
		e, err := s.entry(k)
		h.entries = append(h.entries, e)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.space(); s.pos != len(s.b) {
		return nil, s.syntax("after the header's object")
	}
	return h, nil
}

// stScanner reads the header's bytes from pos on.
type stScanner struct {
	b   []byte
	pos int
}

// space skips JSON whitespace.
func (s *stScanner) space() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek is the next byte after whitespace, 0 at the end.
func (s *stScanner) peek() byte {
	if s.space(); s.pos < len(s.b) {
		return s.b[s.pos]
	}
	return 0
}

// syntax is an error at the current byte.
func (s *stScanner) syntax(where string) error {
	if s.pos >= len(s.b) {
		return formatErr("the safetensors header is not valid JSON: it ends %s", where)
	}
	return formatErr("the safetensors header is not valid JSON: unexpected %s at byte %d, %s",
		strconv.QuoteRune(rune(s.b[s.pos])), s.pos, where)
}

// kind names the value starting at the next byte, for a message.
func (s *stScanner) kind() string {
	switch c := s.peek(); {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return "not a JSON value"
}

// members reads an object's members after its '{', calling f with each
// key when the scanner is at its value; f must read the value.
func (s *stScanner) members(f func(key string) error) error {
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.syntax("where an object key belongs")
		}
		k, err := s.str()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return s.syntax("after an object key")
		}
		s.pos++
		s.space()
		if err := f(k); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.syntax("after an object member")
		}
	}
}

// str reads a string at its opening quote.
func (s *stScanner) str() (string, error) {
	s.pos++
	start := s.pos
	for s.pos < len(s.b) { // the common case: nothing escaped
		c := s.b[s.pos]
		if c == '"' {
			s.pos++
			return string(s.b[start : s.pos-1]), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		s.pos++
	}
	out := append([]byte(nil), s.b[start:s.pos]...)
	for {
		if s.pos >= len(s.b) {
			return "", s.syntax("inside a string")
		}
		c := s.b[s.pos]
		switch {
		case c == '"':
			s.pos++
			return string(out), nil
		case c < 0x20:
			return "", s.syntax("inside a string (a control character must be escaped)")
		case c != '\\':
			out = append(out, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.b) {
			s.pos++
			return "", s.syntax("inside a string escape")
		}
		s.pos++
		switch e := s.b[s.pos]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4(s.pos + 1)
			if !ok {
				return "", s.syntax("in a \\u escape")
			}
			s.pos += 4
			if utf16.IsSurrogate(r) {
				lo, ok := rune(0), false
				if s.pos+2 < len(s.b) && s.b[s.pos+1] == '\\' && s.b[s.pos+2] == 'u' {
					lo, ok = s.hex4(s.pos + 3)
				}
				if r >= 0xdc00 || !ok || lo < 0xdc00 || lo >= 0xe000 {
					return "", formatErr("the safetensors header has an unpaired UTF-16 surrogate escape at byte %d", s.pos-5)
				}
				s.pos += 6
				r = utf16.DecodeRune(r, lo)
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", s.syntax("in a string escape")
		}
		s.pos++
	}
}

// hex4 reads 4 hex digits at i.
func (s *stScanner) hex4(i int) (rune, bool) {
	if i+4 > len(s.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.b[i:i+4]), 16, 16)
	return rune(v), err == nil
}

// natural reads a JSON number that must be a natural number of 64 bits.
func (s *stScanner) natural() (uint64, bool, error) {
	start := s.pos
	if s.pos < len(s.b) && s.b[s.pos] == '-' {
		s.pos++
	}
	digits := s.pos
	for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
		s.pos++
	}
	if s.pos == digits || s.b[digits] == '0' && s.pos-digits > 1 {
		return 0, false, s.syntax("in a number")
	}
	plain := s.pos
	if s.pos < len(s.b) && s.b[s.pos] == '.' {
		s.pos++
		n := s.pos
		for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
			s.pos++
		}
		if s.pos == n {
			return 0, false, s.syntax("in a number")
		}
	}
	if s.pos < len(s.b) && (s.b[s.pos] == 'e' || s.b[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.b) && (s.b[s.pos] == '+' || s.b[s.pos] == '-') {
			s.pos++
		}
		n := s.pos
		for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' {
			s.pos++
		}
		if s.pos == n {
			return 0, false, s.syntax("in a number")
		}
	}
	if start != digits || plain != s.pos {
		return 0, false, nil // a negative number, a fraction or an exponent
	}
	v, err := strconv.ParseUint(string(s.b[digits:plain]), 10, 64)
	return v, err == nil, nil
}

// metadata reads "__metadata__": an object of strings, or null.
func (s *stScanner) metadata(entries int, lim Limits) (map[string]string, error) {
	if s.peek() == 'n' && len(s.b)-s.pos >= 4 && string(s.b[s.pos:s.pos+4]) == "null" {
		s.pos += 4
		return nil, nil
	}
	if s.peek() != '{' {
		return nil, formatErr("the safetensors __metadata__ is %s, not an object", s.kind())
	}
	s.pos++
	m := map[string]string{}
	err := s.members(func(k string) error {
		if _, ok := m[k]; ok {
			return formatErr("the safetensors __metadata__ names %s twice", stQuote(k))
		}
		if entries+len(m) >= lim.Objects {
			return limitErr("Objects", int64(lim.Objects), "a safetensors header of more than %d entries", lim.Objects)
		}
		if s.peek() != '"' {
			return formatErr("the safetensors __metadata__ value of %s is %s, not a string", stQuote(k), s.kind())
		}
		v, err := s.str()
		m[k] = v
		return err
	})
	return m, err
}

// entry reads one tensor's {"dtype", "shape", "data_offsets"}.
func (s *stScanner) entry(name string) (stEntry, error) {
	e := stEntry{name: name}
	bad := func(format string, args ...interface{}) error {
		return fmt.Errorf("%w: %w", ErrFormat, &TensorError{stQuote(name), fmt.Sprintf(format, args...)})
	}
	if s.peek() != '{' {
		return e, bad("its header entry is %s, not an object", s.kind())
	}
	s.pos++
	var haveDType, haveShape, haveOffsets bool
	err := s.members(func(k string) error {
		var dup bool
		switch k {
		case "dtype":
			dup, haveDType = haveDType, true
			if dup {
				break
			}
			if s.peek() != '"' {
				return bad("dtype is %s, not a string", s.kind())
			}
			dt, err := s.str()
			if err != nil {
				return err
			}
			d, ok := stDTypes[dt]
			switch {
			case ok:
				e.dtype = d.dtype
			case stOtherDTypes[dt]:
				return bad("dtype %s is not one gnconv reads (BOOL, U8, I8, I16, I32, I64, F16, BF16, F32, F64)", dt)
			default:
				return bad("unknown dtype %s", stQuote(dt))
			}
		case "shape":
			dup, haveShape = haveShape, true
			if dup {
				break
			}
			dims, err := s.naturals(name, "shape", maxTensorDims)
			if err != nil {
				return err
			}
			e.shape = make([]int, len(dims))
			for i, d := range dims {
				if d > 1<<62 {
					return bad("dimension %d of its shape is too large", d)
				}
				e.shape[i] = int(d)
			}
		case "data_offsets":
			dup, haveOffsets = haveOffsets, true
			if dup {
				break
			}
			offs, err := s.naturals(name, "data_offsets", 2)
			if err != nil {
				return err
			}
			if len(offs) != 2 {
				return bad("data_offsets has %d numbers, not 2", len(offs))
			}
			e.begin, e.end = offs[0], offs[1]
		default:
			return bad("its header entry has a field %s, not dtype, shape or data_offsets", stQuote(k))
		}
		if dup {
			return bad("its header entry gives %s twice", k)
		}
		return nil
	})
	if err != nil {
		return e, err
	}
	if !haveDType || !haveShape || !haveOffsets {
		return e, bad("its header entry lacks dtype, shape or data_offsets")
	}
	return e, nil
}

// naturals reads an array of at most max natural numbers.
func (s *stScanner) naturals(name, field string, max int) ([]uint64, error) {
	bad := func(format string, args ...interface{}) error {
		return fmt.Errorf("%w: %w", ErrFormat, &TensorError{stQuote(name), field + " " + fmt.Sprintf(format, args...)})
	}
	if s.peek() != '[' {
		return nil, bad("is %s, not an array", s.kind())
	}
	s.pos++
	out := []uint64{}
	if s.peek() == ']' {
		s.pos++
		return out, nil
	}
	for {
		if len(out) == max {
			return nil, bad("has more than %d numbers", max)
		}
		if k := s.kind(); k != "a number" {
			return nil, bad("holds %s, not a number", k)
		}
		start := s.pos
		v, ok, err := s.natural()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, bad("holds %s, not a natural number of 64 bits", clipText(string(s.b[start:s.pos]), 40))
		}
		out = append(out, v)
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return out, nil
		default:
			return nil, s.syntax("in an array")
		}
	}
}
