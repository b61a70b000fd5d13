package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progressDelay is how long a transfer runs before its bar appears, and
// progressTick how often the bar is redrawn.
const (
	progressDelay = time.Second
	progressTick  = 200 * time.Millisecond
)

// progress draws a one-line progress bar on w for a transfer that lasts
// longer than progressDelay. A nil *progress draws nothing.
type progress struct {
	w     io.Writer
	name  string
	total int64
	done  atomic.Int64
	start time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
	drawn bool // only the drawing goroutine, then finish after Wait
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// startProgress starts a bar for a transfer of total bytes (<0: unknown),
// or returns nil when disabled.
func startProgress(w io.Writer, enabled bool, name string, total int64) *progress {
	if !enabled {
		return nil
	}
	p := &progress{w: w, name: name, total: total, start: time.Now(), stop: make(chan struct{})}
	p.wg.Add(1)
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer p.wg.Done()
	t := time.NewTicker(progressTick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			if now.Sub(p.start) >= progressDelay {
				p.draw(now)
			}
		}
	}
}

func (p *progress) draw(now time.Time) {
	n := p.done.Load()
	secs := now.Sub(p.start).Seconds()
	rate := formatSize(int64(float64(n)/max(secs, 0.001))) + "/s"
	var line string
	if p.total > 0 {
		frac := min(float64(n)/float64(p.total), 1)
		const width = 24
		fill := int(frac * width)
		line = fmt.Sprintf("%s [%s%s] %5.1f%% %s/%s %s", p.name, strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
			100*frac, formatSize(n), formatSize(p.total), rate)
	} else {
		line = fmt.Sprintf("%s %s %s", p.name, formatSize(n), rate)
	}
	fmt.Fprintf(p.w, "\r%-79s", line)
	p.drawn = true
}

// add counts n more bytes transferred.
func (p *progress) add(n int) {
	if p != nil {
		p.done.Add(int64(n))
	}
}

// finish stops the bar, ending its line if one was drawn.
func (p *progress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	if p.drawn {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
	}
}

// reader counts what r yields.
func (p *progress) reader(r io.Reader) io.Reader {
	if p == nil {
		return r
	}
	return &countingReader{r: r, p: p}
}

type countingReader struct {
	r io.Reader
	p *progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.add(n)
	return n, err
}
