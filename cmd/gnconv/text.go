package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gnconv/gnconv/graph"
	"github.com/gnconv/gnconv/tensor"
)

// clean makes a string read from a file safe to print: control
// characters (ESC, newlines, tabs, DEL, C1 controls), other non-printing
// runes (bidirectional overrides, line separators) and invalid UTF-8 are
// written as Go escapes (\x1b, \n, \u202e, \xff); everything else, spaces
// included, is kept as it is.
func clean(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case printable(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\n', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

func printable(r rune) bool { return r == ' ' || unicode.IsGraphic(r) && !unicode.Is(unicode.Cf, r) }

func isClean(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || !printable(r) {
			return false
		}
		i += n
	}
	return true
}

// cleanLines is clean for a message of several lines: line breaks and
// the tabs that indent them stay, every other control character is
// escaped. For messages whose parts from a file were cleaned already, or
// that come from elsewhere and may quote a file's names.
func cleanLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		parts := strings.Split(l, "\t")
		for j, p := range parts {
			parts[j] = clean(p)
		}
		lines[i] = strings.Join(parts, "\t")
	}
	return strings.Join(lines, "\n")
}

func cleanAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = clean(s)
	}
	return out
}

// listShown is how many entries of a long list human output shows.
const listShown = 8

// shortList names the first few keys, cleaned, and how many more there
// are.
func shortList(keys []string) string {
	if len(keys) > listShown {
		return strings.Join(cleanAll(keys[:listShown]), ", ") + fmt.Sprintf(" and %d more", len(keys)-listShown)
	}
	return strings.Join(cleanAll(keys), ", ")
}

// quotedList is shortList in PyTorch's style: each key in double quotes.
func quotedList(keys []string) string {
	n := min(len(keys), listShown)
	q := make([]string, n)
	for i, k := range keys[:n] {
		q[i] = `"` + clean(k) + `"`
	}
	s := strings.Join(q, ", ")
	if len(keys) > n {
		s += fmt.Sprintf(" and %d more", len(keys)-n)
	}
	return s
}

// loadErrorText is a failed load's message as PyTorch words it, with
// every list cut to its first few entries and every name cleaned (the
// full lists are in --json). names are the checkpoint's keys, which the
// hint may quote.
func loadErrorText(e *graph.LoadError, names []string) string {
	r := e.Report
	var msgs []string
	if r.Strict && len(r.Missing) > 0 {
		msgs = append(msgs, "Missing key(s) in state_dict: "+quotedList(r.Missing)+". ")
	}
	if r.Strict && len(r.Unexpected) > 0 {
		msgs = append(msgs, "Unexpected key(s) in state_dict: "+quotedList(r.Unexpected)+". ")
	}
	for i, m := range r.Mismatched {
		if i == listShown {
			msgs = append(msgs, fmt.Sprintf("and %d more size mismatches.", len(r.Mismatched)-listShown))
			break
		}
		msgs = append(msgs, fmt.Sprintf("size mismatch for %s: copying a param with shape torch.Size(%s) from checkpoint, the shape in current model is torch.Size(%s).",
			clean(m.Key), tensor.ShapeString(m.Checkpoint), tensor.ShapeString(m.Model)))
	}
	class := "GoogLeNet"
	if r.Layout != nil && r.Layout.Class != "" {
		class = clean(r.Layout.Class)
	}
	s := "Error(s) in loading state_dict for " + class + ":\n\t" + strings.Join(msgs, "\n\t")
	if e.Hint != "" {
		s += "\n" + scrubNames(e.Hint, names)
	}
	return s
}

// scrubNames cleans a message that may quote names read from a file:
// each name that needs escaping is replaced by its escaped form (its
// newlines too), then the rest is cleaned line by line.
func scrubNames(msg string, names []string) string {
	for _, n := range names {
		if n != "" && !isClean(n) && strings.Contains(msg, n) {
			msg = strings.ReplaceAll(msg, n, clean(n))
		}
	}
	return cleanLines(msg)
}
