package interop

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// The report tests drive Debian's chromium over the DevTools protocol on
// a pipe (--remote-debugging-pipe: JSON messages ended by a NUL byte,
// read on the browser's fd 3 and written on its fd 4). That needs no
// WebSocket client and no npm package; the protocol gives the console's
// messages, the page's exceptions and the browser's own log entries
// (a blocked load, a CSP violation) as events, and evaluates DOM queries.

// chromiumPath is the browser to run: GNCONV_CHROMIUM, or chromium on
// the PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("GNCONV_CHROMIUM"); p != "" {
		return p, nil
	}
	return exec.LookPath("chromium")
}

// requireChromium skips without chromium, except in CI, where the report
// tests must run.
func requireChromium(t *testing.T) string {
	t.Helper()
	p, err := chromiumPath()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the HTML report tests (apt-get install chromium): %v", err)
		}
		t.Skip("chromium not installed: ", err)
	}
	return p
}

// chromiumFlags keep a headless browser to itself: no first-run pages,
// no update, sync or other background traffic, no GPU, and shared memory
// in a temporary folder (a container's /dev/shm is often too small). The
// sandbox needs user namespaces that containers (and root) often lack;
// the page is one of ours.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
	"--disable-extensions", "--disable-background-networking", "--disable-component-update",
	"--disable-sync", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
}

// cdpMessage is a DevTools protocol message: a reply (ID) or an event
// (Method).
type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// browser is one headless chromium with one page.
type browser struct {
	cmd     *exec.Cmd
	send    *os.File
	stderr  strings.Builder
	mu      sync.Mutex
	next    int
	replies map[int]chan cdpMessage
	events  chan cdpMessage
	session string
}

// startChromium launches the browser with a fresh profile and opens one
// page, attached for commands.
func startChromium(t *testing.T, path string) *browser {
	t.Helper()
	toBrowser, browserIn, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	browserOut, fromBrowser, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, chromiumFlags...), "--remote-debugging-pipe", "--user-data-dir="+t.TempDir(), "about:blank")
	b := &browser{cmd: exec.Command(path, args...), send: browserIn, replies: map[int]chan cdpMessage{}, events: make(chan cdpMessage, 4096)}
	b.cmd.ExtraFiles = []*os.File{toBrowser, fromBrowser} // fds 3 and 4
	b.cmd.Stderr = &lockedWriter{b: &b.stderr, mu: &b.mu}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toBrowser.Close()
	fromBrowser.Close()
	t.Cleanup(func() {
		b.send.Close()
		done := make(chan struct{})
		go func() { b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			b.cmd.Process.Kill()
			<-done
		}
		browserOut.Close()
	})
	go b.read(browserOut)

	var target struct{ TargetID string }
	b.call(t, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct{ SessionID string }
	b.call(t, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	b.session = att.SessionID
	return b
}

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// read hands replies to their callers and queues events.
func (b *browser) read(f *os.File) {
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			close(b.events)
			b.mu.Lock()
			for id, c := range b.replies {
				close(c)
				delete(b.replies, id)
			}
			b.mu.Unlock()
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			c := b.replies[m.ID]
			delete(b.replies, m.ID)
			b.mu.Unlock()
			if c != nil {
				c <- m
			}
			continue
		}
		select {
		case b.events <- m:
		default: // a test that does not read its events does not block the browser
		}
	}
}

// call sends a command (to the page when session is not "") and decodes
// its result into out.
func (b *browser) call(t *testing.T, session, method string, params any, out any) {
	t.Helper()
	b.mu.Lock()
	b.next++
	id := b.next
	c := make(chan cdpMessage, 1)
	b.replies[id] = c
	b.mu.Unlock()
	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params, "sessionId": session})
	if session == "" {
		msg, err = json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.send.Write(append(msg, 0)); err != nil {
		t.Fatalf("%s: %v; chromium said:\n%s", method, err, b.log())
	}
	select {
	case m, ok := <-c:
		if !ok {
			t.Fatalf("%s: chromium closed the pipe; it said:\n%s", method, b.log())
		}
		if m.Error != nil {
			t.Fatalf("%s: %s", method, m.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(m.Result, out); err != nil {
				t.Fatalf("%s: %v", method, err)
			}
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: no reply in 60 s; chromium said:\n%s", method, b.log())
	}
}

func (b *browser) log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stderr.String()
}

// pageCall sends a command to the page.
func (b *browser) pageCall(t *testing.T, method string, params any, out any) {
	t.Helper()
	b.call(t, b.session, method, params, out)
}

// consoleEntry is a message the page's console shows.
type consoleEntry struct {
	Source, Level, Text string
}

// open loads url in the page and returns, once it has loaded and the
// browser is idle, everything the console showed meanwhile: console
// calls, uncaught exceptions and the browser's log entries (failed
// loads, policy violations, parse problems it reports).
func (b *browser) open(t *testing.T, url string) []consoleEntry {
	t.Helper()
	b.pageCall(t, "Runtime.enable", map[string]any{}, nil)
	b.pageCall(t, "Log.enable", map[string]any{}, nil)
	b.pageCall(t, "Page.enable", map[string]any{}, nil)
	var nav struct{ ErrorText string }
	b.pageCall(t, "Page.navigate", map[string]any{"url": url}, &nav)
	if nav.ErrorText != "" {
		t.Fatalf("navigating to %s: %s", url, nav.ErrorText)
	}
	var entries []consoleEntry
	loaded := false
	// after the load event, wait a little for late reports (a violation
	// found while painting)
	var quiet <-chan time.Time
	deadline := time.After(60 * time.Second)
	for {
		select {
		case m, ok := <-b.events:
			if !ok {
				t.Fatalf("chromium exited; it said:\n%s", b.log())
			}
			if m.SessionID != b.session {
				continue
			}
			if e, ok := consoleEvent(m); ok {
				entries = append(entries, e)
			}
			if m.Method == "Page.loadEventFired" && !loaded {
				loaded = true
				quiet = time.After(500 * time.Millisecond)
			}
		case <-quiet:
			return entries
		case <-deadline:
			t.Fatalf("%s did not load in 60 s; chromium said:\n%s", url, b.log())
		}
	}
}

// consoleEvent turns the events that put a line in the console into one
// entry.
func consoleEvent(m cdpMessage) (consoleEntry, bool) {
	switch m.Method {
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string
			Args []struct {
				Value       any
				Description string
			}
		}
		json.Unmarshal(m.Params, &p)
		var parts []string
		for _, a := range p.Args {
			if a.Value != nil {
				parts = append(parts, fmt.Sprint(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		return consoleEntry{"console", p.Type, strings.Join(parts, " ")}, true
	case "Runtime.exceptionThrown":
		var p struct {
			ExceptionDetails struct {
				Text      string
				Exception struct{ Description string }
			}
		}
		json.Unmarshal(m.Params, &p)
		return consoleEntry{"exception", "error", p.ExceptionDetails.Text + " " + p.ExceptionDetails.Exception.Description}, true
	case "Log.entryAdded":
		var p struct {
			Entry struct {
				Source, Level, Text, URL string
			}
		}
		json.Unmarshal(m.Params, &p)
		return consoleEntry{p.Entry.Source, p.Entry.Level, p.Entry.Text + " " + p.Entry.URL}, true
	}
	return consoleEntry{}, false
}

// eval evaluates an expression in the page and decodes its value (the
// expression returns JSON-compatible data).
func (b *browser) eval(t *testing.T, expr string, out any) {
	t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage
		}
		ExceptionDetails *struct{ Text string }
	}
	b.pageCall(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		t.Fatalf("evaluating %q: %s", expr, r.ExceptionDetails.Text)
	}
	if err := json.Unmarshal(r.Result.Value, out); err != nil {
		t.Fatalf("evaluating %q: %v", expr, err)
	}
}
