package convert

import (
	"bytes"
	"math/rand"
	"testing"
	"time"
)

// FuzzReadSafetensors holds the safetensors reader to its promise on
// arbitrary bytes (an error or a state dict, never a panic, a hang or a
// huge allocation), and the writer to the reader: whatever reads, written
// again, reads back as the same tensors and metadata.
func FuzzReadSafetensors(f *testing.F) {
	var b bytes.Buffer
	WriteSafetensors(&b, allDTypes(rand.New(rand.NewSource(2))), map[string]string{"format": "pt"})
	f.Add(b.Bytes())
	f.Add(stFile(`{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"foo":"bar"}}`, make([]byte, 16)))
	f.Add(stFile(`{"\ud83d\ude00\u001b":{"dtype":"BF16","shape":[],"data_offsets":[0,2]},"e":{"dtype":"F64","shape":[0],"data_offsets":[2,2]}}`, make([]byte, 2)))
	for _, c := range stBoundCases() {
		if g := c.gen(); len(g) < 1<<12 {
			f.Add(g)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		start := time.Now()
		ck, err := ReadCheckpointBytes(in)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
		if err != nil || ck.Format != "safetensors" {
			return
		}
		for _, n := range ck.StateDict.Names {
			tt := ck.StateDict.Tensors[n]
			if len(tt.Raw) != tt.Numel()*tt.DType.Size() {
				t.Fatalf("%q: %d bytes for %d elements", n, len(tt.Raw), tt.Numel())
			}
		}
		var out bytes.Buffer
		if err := WriteSafetensors(&out, ck.StateDict, ck.Metadata); err != nil {
			t.Fatalf("read, but not written: %v", err)
		}
		back, err := ReadCheckpointBytes(out.Bytes())
		if err != nil {
			t.Fatalf("written, but not read back: %v", err)
		}
		sameStateDicts(t, back.StateDict, ck.StateDict)
		if len(back.Metadata) != len(ck.Metadata) {
			t.Fatalf("metadata %q, read back as %q", ck.Metadata, back.Metadata)
		}
		for k, v := range ck.Metadata {
			if back.Metadata[k] != v {
				t.Fatalf("metadata %q, read back as %q", ck.Metadata, back.Metadata)
			}
		}
		if err := CheckSafetensors(bytes.NewReader(out.Bytes()), int64(out.Len()), ck.StateDict, ck.Metadata); err != nil {
			t.Fatal(err)
		}
	})
}
