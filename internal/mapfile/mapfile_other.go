//go:build !unix

// Package mapfile maps files into memory read-only.
package mapfile

import "os"

// Map is unavailable here: it returns nil, and callers read the file.
func Map(string) ([]byte, error) { return nil, nil }

// ReadFile reads the file.
func ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }
