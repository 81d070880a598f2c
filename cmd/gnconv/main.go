// Command gnconv turns PyTorch GoogLeNet checkpoints into verified ONNX
// models.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gnconv/gnconv/internal/atomicfile"
	"github.com/urfave/cli/v2"
)

// Exit statuses (docs/cli.md).
const (
	exitOK       = 0
	exitMismatch = 1 // verification ran and found a numerical mismatch
	exitError    = 2 // bad input, bad usage, I/O error
)

// exitErr carries an exit status through urfave/cli.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

func fail(err error) error { return &exitErr{exitError, err} }

// usageErr is bad usage: the message, then a pointer to --help.
func usageErr(err error) error { return &exitErr{exitError, err} }

// noCommand answers a bare `gnconv` (usage on stderr, exit 2), `gnconv
// help [command]` and a command that does not exist.
func noCommand(c *cli.Context) error {
	if c.NArg() == 0 {
		cli.HelpPrinter(c.App.ErrWriter, cli.AppHelpTemplate, c.App)
		return usageErr(errors.New("no command given"))
	}
	name := c.Args().First()
	if name == "help" {
		if c.NArg() > 1 {
			if name = c.Args().Get(1); c.App.Command(name) != nil {
				return cli.ShowCommandHelp(c, name)
			}
		} else {
			return cli.ShowAppHelp(c)
		}
	}
	var names []string
	for _, cmd := range c.App.VisibleCommands() {
		names = append(names, cmd.Name)
	}
	return usageErr(fmt.Errorf("unknown command %s (the commands are %s; gnconv --help lists them)", clean(name), strings.Join(names, ", ")))
}

// usageError turns urfave/cli's usage errors (an undefined flag, a bad
// value) into an error on standard error, exit 2, without the help text
// it would print on standard output.
func usageError(c *cli.Context, err error, _ bool) error {
	where := "gnconv --help"
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		where = "gnconv " + c.Command.Name + " --help"
	}
	return usageErr(fmt.Errorf("%v (%s lists the flags)", err, where))
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := newAppCommands(stdout, stderr)
	app.OnUsageError = usageError
	for _, cmd := range app.Commands {
		cmd.OnUsageError = usageError
	}
	return app
}

func newAppCommands(stdout, stderr io.Writer) *cli.App {
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
			predictCommand(),
			versionCommand(),
			completionCommand(),
			manCommand(),
			benchCommand(),
		},
		HideHelpCommand: true,
		Action:          noCommand,
		ExitErrHandler:  func(*cli.Context, error) {},
	}
}

func main() {
	atomicfile.CleanupOnSignals()
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes the CLI and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(interspersed(app, args))
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "gnconv:", cleanLines(err.Error()))
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
