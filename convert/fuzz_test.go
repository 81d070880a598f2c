package convert

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzReadCheckpoint holds the reader to its promise on arbitrary bytes:
// an error or a state dict, never a panic, a hang or a huge allocation.
func FuzzReadCheckpoint(f *testing.F) {
	for _, dir := range []string{"../fixtures/readers", "../fixtures/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.pth"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 1<<16 {
				f.Add(b)
			}
		}
	}
	// the hostile generators' inputs that are small enough to mutate
	for _, b := range [][]byte{
		genLong4(300), genTextLong(700), genManyLong1(20), genLaughs(24, "list"), genLaughs(24, "dict"),
		genLaughs(30, "tuple"), genManyKeys(50), genPrefixes(5, 3), genMarks(200), genMarkPairs(100),
		genEmptyDicts(100), genUnsetMemo(), genBadUTF8('X', "w\xff"), genBadUTF8(0x8c, "\xc3("),
		genBadUTF8('X', "\xed\xa0\x80"), genDuplicateStateDict(), genBroadcasts(2), genZipOverlapStored(),
		legacyHead(4),
	} {
		if len(b) < 1<<16 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		start := time.Now()
		ck, err := ReadCheckpointBytes(b)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
		if err == nil && ck.StateDict == nil {
			t.Fatal("no error and no state dict")
		}
		if err == nil {
			for _, n := range ck.StateDict.Names {
				tt := ck.StateDict.Tensors[n]
				if len(tt.Raw) != tt.Numel()*tt.DType.Size() {
					t.Fatalf("%s: %d bytes for %d elements", n, len(tt.Raw), tt.Numel())
				}
			}
		}
	})
}
