package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSaveChecked(t *testing.T) {
	content := []byte("the bytes of an object")
	sum := md5.Sum(content)
	etag := hex.EncodeToString(sum[:])
	dir := t.TempDir()

	for _, tc := range []struct {
		name, etag string
		size       int64
		body       []byte
		ok         bool
	}{
		{"whole", etag, int64(len(content)), content, true},
		{"multipart etag is not checked", "0123-2", int64(len(content)), content, true},
		{"unknown length", etag, -1, content, true},
		{"short", etag, int64(len(content)) + 1, content, false},
		{"long", etag, int64(len(content)) - 1, content, false},
		{"flipped byte", etag, int64(len(content)), append([]byte("T"), content[1:]...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			n, err := saveChecked(dest, bytes.NewReader(tc.body), tc.size, tc.etag)
			if (err == nil) != tc.ok {
				t.Fatalf("saveChecked: %v, want ok=%v", err, tc.ok)
			}
			got, rerr := os.ReadFile(dest)
			if tc.ok && (rerr != nil || !bytes.Equal(got, tc.body) || n != int64(len(tc.body))) {
				t.Fatalf("saved %q (%v), n=%d", got, rerr, n)
			}
			if !tc.ok && rerr == nil {
				t.Fatalf("a failed download left %s", dest)
			}
		})
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 3 {
		t.Fatalf("directory holds %d entries (temporary files left?): %v", len(ents), ents)
	}
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	start := time.Unix(1000, 0)
	p := &progress{w: &buf, name: "f.bin", total: 4 << 20, start: start}
	p.add(1 << 20)
	p.draw(start.Add(2 * time.Second))
	got := buf.String()
	if !strings.HasPrefix(got, "\rf.bin [======                  ]  25.0% 1 MiB/4 MiB 512 KiB/s") {
		t.Fatalf("progress line %q", got)
	}
	var nilProgress *progress
	nilProgress.add(5) // a disabled bar ignores everything
	nilProgress.finish()
	if r := nilProgress.reader(strings.NewReader("x")); r == nil {
		t.Fatal("nil reader")
	}
	if startProgress(&buf, false, "x", 1) != nil {
		t.Fatal("a disabled progress bar was started")
	}
}
