package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// withStamps sets the stamped values for one test and restores them.
func withStamps(t *testing.T, v, c, d, m string) {
	t.Helper()
	ov, oc, od, om := version, commit, date, modified
	version, commit, date, modified = v, c, d, m
	t.Cleanup(func() { version, commit, date, modified = ov, oc, od, om })
}

func TestFillVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/gnconv/gnconv", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-27T12:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	withStamps(t, "", "", "", "")
	fillVersion(bi, true)
	if version != "v1.2.3" || commit != "0123456789abcdef0123456789abcdef01234567" || date != "2026-11-27T12:00:00Z" || modified != "true" {
		t.Fatalf("from build info: %q %q %q %q", version, commit, date, modified)
	}

	// What -ldflags -X stamped wins over the build information.
	withStamps(t, "v2.0.0", "feedface", "2026-01-02T03:04:05Z", "")
	fillVersion(bi, true)
	if version != "v2.0.0" || commit != "feedface" || date != "2026-01-02T03:04:05Z" {
		t.Fatalf("stamped: %q %q %q", version, commit, date)
	}

	// A development build: no version, no VCS information.
	withStamps(t, "", "", "", "")
	fillVersion(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true)
	if version != devVersion || commit != "" || date != "" {
		t.Fatalf("devel: %q %q %q", version, commit, date)
	}
	withStamps(t, "", "", "", "")
	fillVersion(nil, false)
	if version != devVersion {
		t.Fatalf("no build info: %q", version)
	}
}

func TestVersionCommand(t *testing.T) {
	withStamps(t, "v1.2.3", "0123456789abcdef", "2026-11-27T12:00:00Z", "true")
	code, out, errs := gnconv(t, "version")
	want := "gnconv v1.2.3\ncommit  0123456789abcdef (modified)\ndate    2026-11-27T12:00:00Z\ngo      " +
		runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, stderr %q, output:\n%s\nwant:\n%s", code, errs, out, want)
	}
	withStamps(t, devVersion, "", "", "")
	if _, out, _ := gnconv(t, "version"); !strings.Contains(out, "commit  unknown\ndate    unknown\n") {
		t.Fatalf("unstamped:\n%s", out)
	}
	if code, _, errs := gnconv(t, "version", "extra"); code != exitError || !strings.Contains(errs, "no arguments") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// --version prints the same version.
	if _, out, _ := gnconv(t, "--version"); !strings.Contains(out, devVersion) {
		t.Fatalf("--version: %s", out)
	}
}

// TestVersionLdflags builds the binary as scripts/release.sh does and
// reads back what -ldflags stamped.
func TestVersionLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		t.Skip("no go command")
	}
	bin := filepath.Join(t.TempDir(), "gnconv")
	ld := "-s -w -buildid= -X main.version=v9.8.7 -X main.commit=abc123 -X main.date=2026-11-27T12:00:00Z"
	build := exec.Command(gobin, "build", "-trimpath", "-buildvcs=false", "-ldflags", ld, "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "gnconv v9.8.7\ncommit  abc123\ndate    2026-11-27T12:00:00Z\ngo      go") {
		t.Fatalf("stamped binary says:\n%s", out)
	}
}
