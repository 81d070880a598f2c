package htmlreport

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// clean makes a string from a file safe to show: html/template escapes
// markup, but control characters (not even allowed as references in
// XML), noncharacters and bidirectional overrides, which can make a name
// read as another, pass through it. Each becomes a visible \x or \u
// escape, and bytes that are not UTF-8 become U+FFFD.
func clean(s string) string {
	if !needsCleaning(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteRune(utf8.RuneError)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case hidden(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsCleaning(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return true
			}
		}
		if r < 0x20 || r == 0x7f || hidden(r) {
			return true
		}
	}
	return false
}

// hidden: C1 controls, bidirectional marks and overrides, zero-width
// characters and XML's noncharacters.
func hidden(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f,
		r == 0x061c, r == 0x200b, r == 0x200c, r == 0x200d, r == 0x200e, r == 0x200f,
		r >= 0x202a && r <= 0x202e,
		r >= 0x2066 && r <= 0x2069,
		r == 0xfeff, r == 0xfffe, r == 0xffff:
		return true
	}
	return false
}

// short cuts a label for a chart to n runes (the full text goes into the
// mark's title and the tables).
func short(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// num formats an error or bound: three significant digits, NaN and Inf
// by name.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// cosine keeps seven decimals, where a near-miss shows.
func cosine(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return num(v)
	}
	return strconv.FormatFloat(v, 'f', 7, 64)
}

// percent formats a share from 0 to 1.
func percent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return num(v)
	}
	return strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
}

// coord formats an SVG coordinate; one decimal is finer than a pixel and
// keeps the output stable.
func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func shape(s []int) string {
	if len(s) == 0 {
		return ""
	}
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = strconv.Itoa(d)
	}
	return strings.Join(p, "×")
}
