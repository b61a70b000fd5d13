package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// The ring keeps the last warnings and errors, newest first, with the
// attributes of With and of the record, without control characters, cut
// at recentText; lower levels pass to the next handler only.
func TestRecentLog(t *testing.T) {
	ring := &recentLog{}
	var next strings.Builder
	log := slog.New(&recentHandler{next: slog.NewTextHandler(&next, &slog.HandlerOptions{Level: slog.LevelInfo}), ring: ring})
	log.Info("info is not kept")
	log.With("component", "node").Warn("peer said", "err", errors.New("bad\x1b[31mred\nline"))
	log.WithGroup("g").Error("failed", "n", 1)
	got := ring.list()
	if len(got) != 2 || got[0].Level != "ERROR" || got[0].Message != "failed n=1" ||
		got[1].Level != "WARN" || got[1].Message != "peer said component=node err=bad [31mred line" {
		t.Fatalf("ring %+v", got)
	}
	if !strings.Contains(next.String(), "info is not kept") || !strings.Contains(next.String(), "peer said") {
		t.Errorf("the next handler got %q", next.String())
	}
	for i := range recentEntries + 5 {
		log.Warn(fmt.Sprint("w", i), "long", strings.Repeat("é", recentText))
	}
	got = ring.list()
	if len(got) != recentEntries || !strings.HasPrefix(got[0].Message, fmt.Sprint("w", recentEntries+4, " ")) ||
		len(got[0].Message) > recentText+len("…") || !strings.HasSuffix(got[0].Message, "…") {
		t.Fatalf("%d entries, newest %q", len(got), got[0].Message)
	}
	// A discarding logger still feeds the ring.
	quiet := slog.New(&recentHandler{next: slog.DiscardHandler, ring: ring})
	quiet.Warn("quiet")
	if ring.list()[0].Message != "quiet" {
		t.Errorf("newest %q", ring.list()[0].Message)
	}
}
