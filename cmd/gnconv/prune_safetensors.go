package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/gnconv/gnconv/convert"
	"github.com/gnconv/gnconv/internal/atomicfile"
	"github.com/gnconv/gnconv/internal/filekind"
	"github.com/gnconv/gnconv/tensor"
	"github.com/urfave/cli/v2"
)

// checkpointFormat is what prune-aux writes for a checkpoint: --format;
// else what the output's name says (.safetensors, .pth or .pt); else
// the input's own format when it is safetensors; else torch's.
func checkpointFormat(c *cli.Context, in, out string) (string, error) {
	switch f := c.String("format"); f {
	case "pth", "safetensors":
		return f, nil
	case "":
	default:
		return "", fmt.Errorf("--format is pth or safetensors, not %q", clean(f))
	}
	switch strings.ToLower(filepath.Ext(out)) {
	case ".safetensors":
		return "safetensors", nil
	case ".pth", ".pt":
		return "pth", nil
	}
	if isSafetensorsFile(in) {
		return "safetensors", nil
	}
	return "pth", nil
}

// isSafetensorsFile tells a safetensors input by its name or its header.
func isSafetensorsFile(path string) bool {
	if strings.EqualFold(filepath.Ext(path), ".safetensors") {
		return true
	}
	k, err := filekind.File(path)
	return err == nil && k.Name == "safetensors"
}

// safetensorsMetadata is what a pruned safetensors file records: the
// input's own metadata when it is a safetensors file, else the format
// tag that Hugging Face's loaders look for in a PyTorch state dict.
func safetensorsMetadata(ck *convert.Checkpoint) map[string]string {
	if ck.Format == "safetensors" {
		return ck.Metadata
	}
	return map[string]string{"format": "pt"}
}

// writeSafetensors writes sd to path whole or not at all, and reads the
// written file back (header and every byte) before it is renamed into
// place.
func writeSafetensors(path string, force bool, sd *tensor.StateDict, metadata map[string]string) error {
	return atomicfile.Write(path, force, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		if err := convert.WriteSafetensors(cw, sd, metadata); err != nil {
			return err
		}
		r, ok := w.(io.ReaderAt)
		if !ok {
			return errors.New("the written file cannot be read back")
		}
		return convert.CheckSafetensors(r, cw.n, sd, metadata)
	})
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
