package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profiler fetches profiles of the devnet process (started with --pprof)
// while a figure runs: CPU, the block and mutex profiles' growth over the
// same seconds, and an execution trace, written to dir as
// <figure>.<kind>.pprof for `go tool pprof` (<figure>.trace.pprof is for
// `go tool trace`, e.g. -pprof=sched or -pprof=syscall).
type profiler struct {
	addr    string // the devnet's --pprof address
	dir     string
	seconds int
}

// start begins the profiles of figure name; the function it returns
// waits for them (a figure shorter than the profile's seconds waits for
// the rest: the profile then holds idle time).
func (p *profiler) start(ctx context.Context, name string) (wait func() error) {
	if p == nil {
		return func() error { return nil }
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i, kind := range []string{"profile", "block", "mutex", "trace"} {
		wg.Go(func() {
			u := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", p.addr, kind, p.seconds)
			errs[i] = fetchTo(ctx, u, filepath.Join(p.dir, name+"."+kindName(kind)+".pprof"))
		})
	}
	return func() error {
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
}

func kindName(kind string) string {
	if kind == "profile" {
		return "cpu"
	}
	return kind
}

// fetchTo saves the answer to GET u in file.
func fetchTo(ctx context.Context, u, file string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("profile: GET %s: %s: %s", u, resp.Status, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile: GET %s: %w", u, err)
	}
	return f.Close()
}
