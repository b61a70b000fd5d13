package main

// --pprof ADDR: a debugging endpoint serving net/http/pprof, on loopback
// only, for serve and devnet. Off by default.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"ishtar/cmd/ishtar/daemon"
)

// Sampling of the block and mutex profiles while --pprof is on: one
// blocking event per pprofBlockRate nanoseconds spent blocked, one mutex
// contention event in pprofMutexFraction.
const (
	pprofBlockRate     = 10_000
	pprofMutexFraction = 10
)

const pprofUsage = "serve the Go profiler (net/http/pprof, block and mutex profiles on) at loopback `ADDR`, e.g. 127.0.0.1:6060 (debugging; off by default)"

// addPprofFlag adds --pprof to fs.
func addPprofFlag(fs *flag.FlagSet) *string {
	return fs.String("pprof", "", pprofUsage)
}

// checkLoopback accepts host:port whose host is a loopback IP or
// "localhost": the profiler reveals memory contents and must never face
// a network.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--pprof: %q is not a loopback address", addr)
	}
	return nil
}

// startPprof serves the profiler at addr until ctx ends and returns the
// address bound; addr "" does nothing. It turns block and mutex profiling
// on for the process.
func startPprof(ctx context.Context, addr string, log *slog.Logger) (string, error) {
	if addr == "" {
		return "", nil
	}
	if err := checkLoopback(addr); err != nil {
		return "", usageErrorf("%v", err)
	}
	ln, err := daemon.Listen(addr, "pprof")
	if err != nil {
		return "", err
	}
	runtime.SetBlockProfileRate(pprofBlockRate)
	runtime.SetMutexProfileFraction(pprofMutexFraction)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server stopped", "err", err)
		}
	}()
	log.Info("profiler serving", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return ln.Addr().String(), nil
}
