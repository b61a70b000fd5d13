package integration

import (
	"log/slog"
	"sync"
)

// maxLog bounds the network log kept for failing tests.
const maxLog = 64 << 10

// logBuffer keeps the last maxLog bytes of warnings and errors logged by
// a network's nodes and gateway; a failing test prints them.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func newLogBuffer() *logBuffer { return &logBuffer{} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - maxLog; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// logger returns a logger of warnings and errors tagged with component.
func (b *logBuffer) logger(component string) *slog.Logger {
	h := slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelWarn})
	return slog.New(h).With("component", component)
}
