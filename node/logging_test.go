package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"ishtar/shard"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// abortReader yields n bytes, then fails, so the client drops the
// connection mid-body.
type abortReader struct{ n int }

var errAbort = errors.New("caller gives up")

func (r *abortReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errAbort
	}
	k := min(len(p), r.n)
	r.n -= k
	return k, nil
}

// A caller that disconnects mid-upload used to be logged at ERROR with
// code internal, once per upload. It is an abort now: counted, logged at
// debug level, and at most logBurst lines a minute per source.
func TestAbortsAreNotErrors(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n := startNode(t, nodeOpts{})
	n.srv = NewServer(n.srv.cfg, n.st, n.db, log)
	n.ts.Config.Handler = n.srv
	c := n.clientFrom(t, "127.0.30.1")
	ctx := context.Background()
	const aborts = 40
	for i := range aborts {
		var id shard.ID
		id[0], id[1] = 0xab, byte(i)
		size := int64(200 << 10)
		_, err := c.PutShard(ctx, id, &abortReader{n: 50 << 10}, size, newGrant(newKey(t), shard.OpStore, id, size))
		if !errors.Is(err, errAbort) {
			t.Fatalf("upload %d: %v, want the reader's error", i, err)
		}
	}
	waitFor(t, "every abort to be counted", func() bool { return n.srv.Refusals()[ErrAborted.Code] == aborts })
	lines := 0
	for _, m := range logs.lines(t) {
		if m["level"] == "ERROR" || m["code"] == ErrInternal.Code {
			t.Fatalf("an abort logged as %v", m)
		}
		if m["code"] == ErrAborted.Code {
			if m["level"] != "DEBUG" {
				t.Fatalf("abort logged at %v", m["level"])
			}
			lines++
		}
	}
	if lines != logBurst {
		t.Fatalf("%d lines for %d aborts from one source, want %d", lines, aborts, logBurst)
	}
}

func TestLogLimiter(t *testing.T) {
	now := time.Unix(7_000_000, 0)
	l := newLogLimiter(func() time.Time { return now })
	for i := range logBurst {
		if ok, _ := l.allow("m", "a"); !ok {
			t.Fatalf("line %d of the burst refused", i)
		}
	}
	for range 7 {
		if ok, _ := l.allow("m", "a"); ok {
			t.Fatal("line beyond the burst let through")
		}
	}
	if ok, _ := l.allow("m", "b"); !ok {
		t.Fatal("another source shares the budget")
	}
	now = now.Add(logEvery)
	if ok, suppressed := l.allow("m", "a"); !ok || suppressed != 7 {
		t.Fatalf("next window: ok %v, suppressed %d; want true, 7", ok, suppressed)
	}
	// Many sources: memory stays bounded.
	for i := range 3 * logKeys {
		l.allow("m", string(rune(i)))
	}
	if len(l.keys) > logKeys+1 {
		t.Fatalf("%d sources remembered, bound %d", len(l.keys), logKeys)
	}
}
