// Command gnconv turns PyTorch GoogLeNet checkpoints into verified ONNX
// models.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

// Exit statuses (docs/cli.md).
const (
	exitOK       = 0
	exitMismatch = 1 // verification ran and found a numerical mismatch
	exitError    = 2 // bad input, bad usage, I/O error
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// exitErr carries an exit status through urfave/cli.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

func fail(err error) error { return &exitErr{exitError, err} }

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "gnconv",
		Usage:     "turn PyTorch GoogLeNet checkpoints into verified ONNX models",
		Version:   version,
		Writer:    stdout,
		ErrWriter: stderr,
		Description: "gnconv reads torch.save checkpoints of GoogLeNet (the tutorial layout or torchvision's),\n" +
			"binds them to its own GoogLeNet graph and writes ONNX, or a deploy checkpoint without the aux heads.\n" +
			"No Python is needed. Exit status: 0 success, 1 verification mismatch, 2 error.",
		Commands: []*cli.Command{
			inspectCommand(),
			importCommand(),
			pruneAuxCommand(),
			verifyCommand(),
		},
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
	}
}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes the CLI and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(interspersed(app, args))
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "gnconv:", err)
	var ee *exitErr
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitError
}

func writeJSON(w io.Writer, v interface{}) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
