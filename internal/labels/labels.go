// Package labels reads class-name files (one name per line, as torchvision's
// and most training repositories ship them) and carries the names in an ONNX
// file's metadata, so that a deployed model names its classes itself.
package labels

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gnconv/gnconv/internal/safeopen"
)

// MetadataKey is the ONNX metadata_props key that holds the class names,
// one per line in class order.
const MetadataKey = "labels"

// Bounds on a labels file: ImageNet-21k's 21,841 names fit with room to
// spare, and a name is a word or a short phrase.
const (
	MaxFileBytes = 8 << 20
	MaxNames     = 1 << 20
	MaxNameBytes = 1024
)

// ErrFormat is wrapped by every error about a file that is not a list of
// class names.
var ErrFormat = errors.New("not a labels file (one class name per line, UTF-8)")

// ReadFile reads a labels file: one class name per line, in class order,
// UTF-8, a final newline optional, "\r\n" line ends accepted.
func ReadFile(path string) ([]string, error) {
	b, err := safeopen.ReadFile(path, MaxFileBytes)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse splits a labels file's bytes into names. Leading and trailing
// spaces are part of no class name and are removed; an empty line inside
// the list is refused, since it would shift every later class by one.
func Parse(b []byte) ([]string, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: the file is not UTF-8 text", ErrFormat)
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, fmt.Errorf("%w: the file holds a NUL byte", ErrFormat)
	}
	s := strings.TrimPrefix(string(b), "\ufeff")
	s = strings.TrimSuffix(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: the file holds no names", ErrFormat)
	}
	if n := strings.Count(s, "\n") + 1; n > MaxNames {
		return nil, fmt.Errorf("%w: more than %d lines", ErrFormat, MaxNames)
	}
	names := strings.Split(s, "\n")
	for i, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			return nil, fmt.Errorf("%w: line %d is empty", ErrFormat, i+1)
		case len(n) > MaxNameBytes:
			return nil, fmt.Errorf("%w: line %d is longer than %d bytes", ErrFormat, i+1, MaxNameBytes)
		case strings.ContainsAny(n, "\r\n"):
			return nil, fmt.Errorf("%w: line %d holds a carriage return", ErrFormat, i+1)
		}
		names[i] = n
	}
	return names, nil
}

// Check says whether the names fit a network with that many classes.
func Check(names []string, classes int) error {
	if len(names) != classes {
		return fmt.Errorf("%d class names for a network of %d classes", len(names), classes)
	}
	return nil
}

// Encode is the metadata value for the names.
func Encode(names []string) string { return strings.Join(names, "\n") }

// Decode reads the names back from a metadata value, with the bounds of a
// labels file (the value comes from an untrusted ONNX file).
func Decode(v string) ([]string, error) {
	if len(v) > MaxFileBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrFormat, MaxFileBytes)
	}
	return Parse([]byte(v))
}
