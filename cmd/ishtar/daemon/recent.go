package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
)

// The status shows the last warnings and errors the daemon logged: a
// handler in front of the daemon's own keeps them in a small ring.

const (
	recentEntries = 20  // kept
	recentText    = 300 // bytes of one entry's text at most
)

// LogEntry is one warning or error the daemon logged.
type LogEntry struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"` // the message, then its attributes as key=value
}

// recentLog is a ring of the last LogEntries.
type recentLog struct {
	mu      sync.Mutex
	entries []LogEntry // oldest first
}

func (r *recentLog) add(e LogEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) == recentEntries {
		copy(r.entries, r.entries[1:])
		r.entries = r.entries[:recentEntries-1]
	}
	r.entries = append(r.entries, e)
}

// list returns the entries, newest first.
func (r *recentLog) list() []LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]LogEntry, 0, len(r.entries))
	for i := len(r.entries) - 1; i >= 0; i-- {
		out = append(out, r.entries[i])
	}
	return out
}

// recentHandler passes records on to next and keeps those at warning
// level or above in ring.
type recentHandler struct {
	next  slog.Handler
	ring  *recentLog
	attrs string // the attributes of With, rendered
}

func (h *recentHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *recentHandler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelWarn {
		var b strings.Builder
		b.WriteString(rec.Message)
		b.WriteString(h.attrs)
		rec.Attrs(func(a slog.Attr) bool {
			writeAttr(&b, "", a)
			return b.Len() < recentText
		})
		// Peers' words end up here: no control character reaches a
		// terminal that prints the status.
		text := strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, strings.ToValidUTF8(b.String(), "?"))
		if len(text) > recentText {
			text = strings.ToValidUTF8(text[:recentText], "") + "…"
		}
		h.ring.add(LogEntry{Time: rec.Time, Level: rec.Level.String(), Message: text})
	}
	if h.next.Enabled(ctx, rec.Level) {
		return h.next.Handle(ctx, rec)
	}
	return nil
}

func (h *recentHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		writeAttr(&b, "", a)
	}
	return &recentHandler{next: h.next.WithAttrs(attrs), ring: h.ring, attrs: b.String()}
}

func (h *recentHandler) WithGroup(name string) slog.Handler {
	// Attributes after a group are rendered without its prefix: entries
	// are for reading, not parsing.
	return &recentHandler{next: h.next.WithGroup(name), ring: h.ring, attrs: h.attrs}
}

func writeAttr(b *strings.Builder, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			writeAttr(b, prefix+a.Key+".", g)
		}
		return
	}
	fmt.Fprintf(b, " %s%s=%v", prefix, a.Key, v.Any())
}
