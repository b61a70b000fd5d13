package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// Logs an attacker cannot flood: every refused request is counted by code
// (Server.Refusals), but logged at most logBurst times per logEvery for
// one message from one address block; the next line that gets through
// says how many were left out. Callers that go away mid-request are
// logged at debug level; ERROR is kept for what an operator must act on
// (a failing disk, a full file system, a bug).

const (
	logEvery = time.Minute
	logBurst = 5
	logKeys  = 4096 // sources remembered; beyond, they share one budget
)

// logLimiter rations log lines per (message, source).
type logLimiter struct {
	now   func() time.Time
	mu    sync.Mutex
	keys  map[logKey]*logWindow
	swept time.Time // when full keys were last cleared out
}

type logKey struct{ msg, source string }

type logWindow struct {
	start      time.Time
	lines      int
	suppressed int
}

func newLogLimiter(now func() time.Time) *logLimiter {
	return &logLimiter{now: now, keys: make(map[logKey]*logWindow)}
}

// allow reports whether a line with msg from source may be logged, and how
// many such lines were left out since the last one that was.
func (l *logLimiter) allow(msg, source string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := logKey{msg, source}
	w := l.keys[k]
	if w == nil {
		if len(l.keys) >= logKeys && now.Sub(l.swept) >= logEvery {
			l.swept = now
			for k, w := range l.keys {
				if now.Sub(w.start) >= logEvery && w.suppressed == 0 {
					delete(l.keys, k)
				}
			}
		}
		if len(l.keys) >= logKeys {
			k.source = "(many sources)"
		}
		if w = l.keys[k]; w == nil {
			w = &logWindow{start: now}
			l.keys[k] = w
		}
	}
	if now.Sub(w.start) >= logEvery {
		w.start, w.lines = now, 0
	}
	if w.lines >= logBurst {
		w.suppressed++
		return false, 0
	}
	w.lines++
	suppressed, w.suppressed = w.suppressed, 0
	return true, suppressed
}

// refusals counts refused requests by code.
type refusals struct {
	mu     sync.Mutex
	byCode map[string]int64
}

func (r *refusals) add(code string) {
	r.mu.Lock()
	if r.byCode == nil {
		r.byCode = make(map[string]int64)
	}
	r.byCode[code]++
	r.mu.Unlock()
}

// Refusals returns how many requests the node refused or failed, by
// error code ("aborted" for callers that went away mid-request).
func (s *Server) Refusals() map[string]int64 {
	s.refused.mu.Lock()
	defer s.refused.mu.Unlock()
	out := make(map[string]int64, len(s.refused.byCode))
	for k, v := range s.refused.byCode {
		out[k] = v
	}
	return out
}

// classify maps a handler's error to the protocol error answered.
func classify(err error) *Error {
	var e *Error
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &maxErr):
		return errorf(ErrTooLarge, "body over %d bytes", maxErr.Limit)
	case errors.Is(err, syscall.ENOSPC):
		return errorf(ErrInsufficientStorage, "disk full")
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ErrTimeout
	}
	return ErrInternal
}

// logLevel is how loud a failed request is: the caller going away is
// debug, refusals are info, failures the operator must see are errors.
func logLevel(e *Error, err error, answered bool) slog.Level {
	switch {
	case e.Code == ErrAborted.Code || (answered && callerGone(err)):
		return slog.LevelDebug
	case answered:
		return slog.LevelWarn
	case e.Code == ErrInternal.Code || errors.Is(err, syscall.ENOSPC):
		return slog.LevelError
	}
	return slog.LevelInfo
}

// callerGone reports whether err is the connection to the caller failing:
// it closed, reset, or stopped reading.
func callerGone(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, http.ErrAbortHandler)
}

// logFailure logs a failed request, rationed per message and source.
func (s *Server) logFailure(ctx context.Context, msg string, level slog.Level, source string, attrs []any) {
	if !s.log.Enabled(ctx, level) {
		return
	}
	ok, suppressed := s.logs.allow(msg, source)
	if !ok {
		return
	}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed_before", suppressed)
	}
	s.log.Log(ctx, level, msg, attrs...)
}
