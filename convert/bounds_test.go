package convert

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// boundCase is one hostile input and what reading it must give.
type boundCase struct {
	name string
	gen  func() []byte
	// want is in the error; "" when the file must read
	want  string
	check func(t *testing.T, ck *Checkpoint)
}

func boundCases() []boundCase {
	return []boundCase{
		{"zip_bomb_1GiB", genZipBomb, "bytes of tensor data", nil},
		{"zip_entries_share_one_stream", genZipOverlap, "overlap", nil},
		{"zip_stored_entries_overlap", genZipOverlapStored, "overlap", nil},
		{"long4_1MiB", func() []byte { return genLong4(1 << 20) }, "limit IntBytes", nil},
		{"text_long_1M_digits", func() []byte { return genTextLong(1 << 20) }, "limit IntBytes", nil},
		{"long1_many", func() []byte { return genManyLong1(100000) }, "limit IntBytes", nil},
		{"long4_at_limit_reads", func() []byte { return genLong4(2048) }, "", nil},
		{"laughs_list_depth_24", func() []byte { return genLaughs(24, "list") }, "", nil},
		{"laughs_tuple_depth_40", func() []byte { return genLaughs(40, "tuple") }, "", nil},
		{"laughs_dict_depth_64", func() []byte { return genLaughs(64, "dict") }, "", nil},
		{"laughs_list_depth_200", func() []byte { return genLaughs(200, "list") }, "nested more than", nil},
		{"state_dict_search_1e5_keys", func() []byte { return genManyKeys(100000) }, "", func(t *testing.T, ck *Checkpoint) {
			if ck.WrapperKey != "weights" {
				t.Errorf("wrapper %q", ck.WrapperKey)
			}
		}},
		{"prefix_1e5_times", func() []byte { return genPrefixes(100000, 1) }, "", func(t *testing.T, ck *Checkpoint) {
			if ck.StateDict.Names[0] != "w0" || len(ck.Prefix) != 7*100000 {
				t.Errorf("names %.20q, prefix of %d bytes", ck.StateDict.Names, len(ck.Prefix))
			}
		}},
		{"prefix_1e5_keys", func() []byte { return genPrefixes(3, 100000) }, "", func(t *testing.T, ck *Checkpoint) {
			if ck.StateDict.Len() != 100000 || ck.Prefix != "module.module.module." {
				t.Errorf("%d keys, prefix %q", ck.StateDict.Len(), ck.Prefix)
			}
		}},
		{"marks_4M", func() []byte { return genMarks(4 << 20) }, "nested more than", nil},
		{"mark_tuple_pairs_2M", func() []byte { return genMarkPairs(2 << 20) }, "limit Pickle", nil},
		{"empty_dicts_4M", func() []byte { return genEmptyDicts(2 << 20) }, "limit Pickle", nil},
		{"unset_memo_slot", genUnsetMemo, "before it is set", nil},
		{"binunicode_not_utf8", func() []byte { return genBadUTF8('X', "w\xff") }, "not UTF-8", nil},
		{"short_binunicode_not_utf8", func() []byte { return genBadUTF8(0x8c, "\xc3(") }, "not UTF-8", nil},
		{"binunicode_surrogate_reads", func() []byte { return genBadUTF8('X', "\xed\xa0\x80") }, "", nil},
		{"duplicate_state_dict_key", genDuplicateStateDict, "", func(t *testing.T, ck *Checkpoint) {
			if ck.StateDict.Len() != 1 || ck.StateDict.Names[0] != "second" {
				t.Errorf("state dict %q, want torch's: the second", ck.StateDict.Names)
			}
		}},
		{"broadcast_views_copied", func() []byte { return genBroadcasts(64) }, "limit DataBytes", nil},
	}
}

// TestBoundedInputs reads each hostile input: an error of one line, or
// the file, in well under a few seconds and in memory proportional to the
// input.
func TestBoundedInputs(t *testing.T) {
	dir := t.TempDir()
	for _, c := range boundCases() {
		t.Run(c.name, func(t *testing.T) {
			b := c.gen()
			path := filepath.Join(dir, c.name+".pth")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			b = nil
			readers := map[string]func(string) (*Checkpoint, error){"read": ReadCheckpoint, "map": MapCheckpoint,
				"bytes": func(p string) (*Checkpoint, error) {
					b, err := os.ReadFile(p)
					if err != nil {
						return nil, err
					}
					return ReadCheckpointBytes(b)
				}}
			for how, read := range readers {
				size := fileSize(t, path)
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				start := time.Now()
				ck, err := read(path)
				took := time.Since(start)
				runtime.ReadMemStats(&after)
				if took > 2*time.Second {
					t.Errorf("%s: took %v", how, took)
				}
				// everything allocated, garbage included
				if alloc, max := after.TotalAlloc-before.TotalAlloc, uint64(64<<20+400*size); alloc > max {
					t.Errorf("%s: allocated %d bytes for a %d-byte file", how, alloc, size)
				}
				if c.want == "" {
					if err != nil {
						t.Fatalf("%s: %v", how, err)
					}
					if c.check != nil {
						c.check(t, ck)
					}
					continue
				}
				if err == nil {
					t.Fatalf("%s: no error", how)
				}
				msg := err.Error()
				if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || len(msg) > 600 {
					t.Errorf("%s: error %q, want one line saying %q", how, msg, c.want)
				}
				if !errors.Is(err, ErrFormat) {
					t.Errorf("%s: %v is not an ErrFormat", how, err)
				}
				if !strings.Contains(msg, path) && how != "bytes" {
					t.Errorf("%s: %q does not name the file", how, msg)
				}
			}
		})
	}
}

func fileSize(t *testing.T, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestSparseLegacyFile: a legacy file announcing a 20 GB storage, and
// holding it as a sparse file, is refused before anything is allocated
// for it.
func TestSparseLegacyFile(t *testing.T) {
	const n = 5_000_000_000 // float32 elements: 20 GB
	path := filepath.Join(t.TempDir(), "sparse.pth")
	head := legacyHead(n)
	if err := os.WriteFile(path, head, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(len(head))+4*n); err != nil {
		t.Skip(err)
	}
	for how, read := range map[string]func(string) (*Checkpoint, error){"read": ReadCheckpoint, "map": MapCheckpoint} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err := read(path)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "limit DataBytes") || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v", how, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v", how, d)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
			t.Errorf("%s: allocated %d bytes", how, alloc)
		}
	}
	// raised limits let it through to the next check: the data is there
	// (zeros), so only memory stands in the way; not tried here.
}

// TestLimitsRaise: a limit that refuses a file lets it through when
// raised.
func TestLimitsRaise(t *testing.T) {
	b := genLong4(4096)
	if _, err := ReadCheckpointBytes(b); err == nil || !strings.Contains(err.Error(), "IntBytes") {
		t.Fatalf("default limits: %v", err)
	}
	if _, err := ReadCheckpointBytesWith(b, Limits{IntBytes: 4096}); err != nil {
		t.Fatalf("IntBytes raised: %v", err)
	}
	if _, err := ReadCheckpointBytesWith(b, DefaultLimits().Scaled(2)); err != nil {
		t.Fatalf("scaled: %v", err)
	}
	b = genBroadcasts(2)
	if _, err := ReadCheckpointBytesWith(b, Limits{BroadcastElements: 1 << 20}); err == nil || !strings.Contains(err.Error(), "BroadcastElements") {
		t.Fatalf("BroadcastElements lowered: %v", err)
	}
	var le *LimitError
	if _, err := ReadCheckpointBytesWith(genMarks(1000), Limits{Depth: 10}); !errors.As(err, &le) || le.Limit != "Depth" || le.Max != 10 {
		t.Fatalf("Depth: %v", err)
	}
}

// TestNonRegularInputs: a FIFO, a device and a directory are refused at
// once by every reader, never opened for reading.
func TestNonRegularInputs(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.pth")
	if err := mkfifo(fifo); err != nil {
		t.Skip(err)
	}
	readers := map[string]func(string) (*Checkpoint, error){"read": ReadCheckpoint, "map": MapCheckpoint}
	for _, p := range []string{fifo, "/dev/zero", dir} {
		for how, read := range readers {
			done := make(chan error, 1)
			go func() { _, err := read(p); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), p) {
					t.Errorf("%s %s: got %v", how, p, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s %s: blocked", how, p)
			}
		}
	}
}

// TestTruncatedWhileMapped truncates a checkpoint after it is mapped and
// before it is read: MapCheckpoint must fail with an error naming the
// file, not crash. It runs in a child process, so that a fault the
// runtime did not turn into an error fails the test instead of killing it.
func TestTruncatedWhileMapped(t *testing.T) {
	if os.Getenv("CONVERT_TRUNCATE_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTruncatedWhileMapped$", "-test.v")
		cmd.Env = append(os.Environ(), "CONVERT_TRUNCATE_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "truncation-ok") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	path := filepath.Join(t.TempDir(), "big.pth")
	if err := os.WriteFile(path, zipFile(t, smallStateDictPickle(1<<20), 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	// read whole, then truncated: nothing read may alias the map
	ck, err := MapCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 100); err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, v := range ck.StateDict.Tensors["w"].Float32() {
		sum += float64(v)
	}
	if sum != float64(1<<19)*float64(1<<20-1) {
		t.Errorf("sum %v", sum)
	}
	if err := os.WriteFile(path, zipFile(t, smallStateDictPickle(1<<20), 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	afterMap = func(name string) { os.Truncate(name, 100) }
	defer func() { afterMap = nil }()
	_, err = MapCheckpoint(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("got %v", err)
	}
	t.Log("truncation-ok")
}

// TestBoundedUnderAddressLimit reruns TestBoundedInputs and
// TestSparseLegacyFile in a child process whose address space is limited
// to 2 GB (util-linux's prlimit): every hostile input must still end in
// its error, not in the runtime running out of memory.
func TestBoundedUnderAddressLimit(t *testing.T) {
	if os.Getenv("CONVERT_UNDER_PRLIMIT") != "" {
		return
	}
	prlimit, err := exec.LookPath("prlimit")
	ci := os.Getenv("CI") == "true"
	switch {
	case err != nil && ci:
		t.Fatal("prlimit (util-linux) is needed in CI")
	case err != nil:
		t.Skip("prlimit (util-linux) is not installed")
	case testing.Short() && !ci:
		t.Skip("short")
	}
	cmd := exec.Command(prlimit, "--as=2000000000", "--", os.Args[0],
		"-test.run=^(TestBoundedInputs|TestSparseLegacyFile|TestNonRegularInputs)$", "-test.v")
	cmd.Env = append(os.Environ(), "CONVERT_UNDER_PRLIMIT=1")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "--- FAIL") || !strings.Contains(string(out), "--- PASS: TestBoundedInputs") {
		t.Fatalf("under prlimit --as=2000000000: %v\n%s", err, out)
	}
}

// TestWriteHostileCorpus writes every generator's file into the folder
// GNCONV_HOSTILE_DIR names, to try the command line on them.
func TestWriteHostileCorpus(t *testing.T) {
	dir := os.Getenv("GNCONV_HOSTILE_DIR")
	if dir == "" {
		t.Skip("GNCONV_HOSTILE_DIR is not set")
	}
	for _, c := range boundCases() {
		if err := os.WriteFile(filepath.Join(dir, c.name+".pth"), c.gen(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	head := legacyHead(5_000_000_000)
	p := filepath.Join(dir, "sparse_legacy_20GB.pth")
	if err := os.WriteFile(p, head, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, int64(len(head))+20_000_000_000); err != nil {
		t.Fatal(err)
	}
}

// TestLegacyLongPickle: a legacy file whose pickles are longer than the
// first stretch read reads whole.
func TestLegacyLongPickle(t *testing.T) {
	b := append(legacyHeadPad(2, 3<<20), make([]byte, 8)...)
	path := filepath.Join(t.TempDir(), "long.pth")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for how, read := range map[string]func(string) (*Checkpoint, error){"read": ReadCheckpoint, "map": MapCheckpoint} {
		ck, err := read(path)
		if err != nil || ck.StateDict.Len() != 1 || ck.StateDict.Tensors["w"].Numel() != 2 {
			t.Fatalf("%s: %v", how, err)
		}
	}
}
