package atomicfile

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// The temporaries being written, removed on SIGINT and SIGTERM.
var (
	tmpMu   sync.Mutex
	tmpLive = map[string]bool{}
	exit    = os.Exit
)

func register(name string) {
	tmpMu.Lock()
	tmpLive[name] = true
	tmpMu.Unlock()
}

// createRegistered creates a temporary file and registers it in one step
// under the registry's lock, so that a signal never finds a temporary
// that exists but is not yet registered.
func createRegistered(dir, pattern string) (*os.File, error) {
	tmpMu.Lock()
	defer tmpMu.Unlock()
	f, err := os.CreateTemp(dir, pattern)
	if err == nil {
		tmpLive[f.Name()] = true
	}
	return f, err
}

func unregister(name string) {
	tmpMu.Lock()
	delete(tmpLive, name)
	tmpMu.Unlock()
}

// renameRegistered renames a registered temporary into place and forgets
// it, under the registry's lock, so that a signal sees it either as a
// temporary or as done.
func renameRegistered(name, path string) error {
	tmpMu.Lock()
	defer tmpMu.Unlock()
	err := os.Rename(name, path)
	if err == nil {
		delete(tmpLive, name)
	}
	return err
}

// removeTemporaries removes every temporary file being written and
// returns their names. The registry stays locked afterwards when hold is
// set, so that no write can complete before the process exits.
func removeTemporaries(hold bool) []string {
	tmpMu.Lock()
	var names []string
	for n := range tmpLive {
		os.Remove(n)
		delete(tmpLive, n)
		names = append(names, n)
	}
	if !hold {
		tmpMu.Unlock()
	}
	return names
}

var signalOnce sync.Once

// CleanupOnSignals makes SIGINT and SIGTERM remove the temporary files of
// the writes in progress, then exit with the conventional status, 128 plus
// the signal's number (130 and 143). Programs call it once, at start.
func CleanupOnSignals() {
	signalOnce.Do(func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		go func() {
			sig := <-ch
			removeTemporaries(true)
			code := 128 + 2
			if s, ok := sig.(syscall.Signal); ok {
				code = 128 + int(s)
			}
			exit(code)
		}()
	})
}
