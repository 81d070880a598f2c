package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// What a build stamps with -ldflags "-X main.version=... -X main.commit=...
// -X main.date=... [-X main.modified=true]" (scripts/release.sh). Left empty, they are filled from
// the build information the go command records (runtime/debug): the
// module's version (a tag, or a pseudo-version from the commit), the
// commit and its time. The date is always the commit's, never the time of
// the build, so that the same commit builds the same bytes.
var (
	version string
	commit  string
	date    string
	// modified is "true" when the tree had uncommitted changes.
	modified string
)

// devVersion names a build that carries no version: go run, go test, or a
// go build without version control information.
const devVersion = "0.1.0-dev"

func init() { fillVersion(debug.ReadBuildInfo()) }

// fillVersion completes what -ldflags left empty from the build
// information, and falls back to devVersion.
func fillVersion(bi *debug.BuildInfo, ok bool) {
	if ok {
		if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if commit == "" {
					commit = s.Value
				}
			case "vcs.time":
				if date == "" {
					date = s.Value
				}
			case "vcs.modified":
				if modified == "" {
					modified = s.Value
				}
			}
		}
	}
	if version == "" {
		version = devVersion
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, commit, commit date and Go version of this binary",
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageErr(fmt.Errorf("version takes no arguments, got %d", c.NArg()))
			}
			printVersion(c.App.Writer)
			return nil
		},
	}
}

func printVersion(w io.Writer) {
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	rev := unknown(commit)
	if modified == "true" {
		rev += " (modified)"
	}
	fmt.Fprintf(w, "gnconv %s\ncommit  %s\ndate    %s\ngo      %s %s/%s\n",
		version, rev, unknown(date), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
