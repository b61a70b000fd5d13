package node

import (
	"container/list"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"ishtar/node/peers"
)

// Limits bound what callers can make a node hold at once: connections,
// uploads in flight and the bytes they reserve, and the rate of signed
// requests. Each is bounded per caller identity (node ID, checked only
// once its signature verifies), per address block of the caller's IP
// address (see peers.AddressBlock; an IP address cannot be forged on a TCP
// connection, while identities are free) and in total. A caller over a
// bound is refused with ErrBusy and a Retry-After hint: never with
// ErrInsufficientStorage, which means the node is full. Zero fields take
// the defaults; a negative rate turns that rate limit off.
type Limits struct {
	// Shard uploads receiving their body.
	UploadsPerPeer  int // default 16
	UploadsPerBlock int // default 64
	Uploads         int // default 256
	// Bytes reserved by uploads in flight. A reservation grows in steps
	// as the body arrives, so a body that never comes holds one step.
	InflightPerPeer  int64 // default 512 MiB
	InflightPerBlock int64 // default 2 GiB
	// Signed requests per second, with bursts of twice as many: per
	// identity once the signature verifies, and per address block before
	// any signature is checked (anonymous requests too).
	PeerRate  float64 // default 2000
	BlockRate float64 // default 10000
	// Connections open at once, at the listener (see LimitListener).
	ConnsPerBlock int // default 512
	Conns         int // default 8192
	// Tracked bounds the identities and the address blocks whose request
	// rates are remembered; the least recently seen are forgotten first.
	Tracked int // default 65536
}

// reserveStep is how much of an upload's size is reserved at a time.
const reserveStep = 1 << 20

func (l *Limits) defaults() {
	setDefault(&l.UploadsPerPeer, 16)
	setDefault(&l.UploadsPerBlock, 64)
	setDefault(&l.Uploads, 256)
	setDefault(&l.InflightPerPeer, 512<<20)
	setDefault(&l.InflightPerBlock, 2<<30)
	setDefault(&l.PeerRate, 2000)
	setDefault(&l.BlockRate, 10000)
	setDefault(&l.ConnsPerBlock, 512)
	setDefault(&l.Conns, 8192)
	setDefault(&l.Tracked, 1<<16)
}

func (l *Limits) validate() error {
	switch {
	case l.UploadsPerPeer <= 0 || l.UploadsPerBlock <= 0 || l.Uploads <= 0:
		return fmt.Errorf("upload limits must be positive")
	case l.InflightPerPeer < reserveStep || l.InflightPerBlock < reserveStep:
		return fmt.Errorf("in-flight byte limits must be at least %d", reserveStep)
	case l.ConnsPerBlock <= 0 || l.Conns <= 0 || l.Tracked <= 0:
		return fmt.Errorf("connection and tracking limits must be positive")
	}
	return nil
}

// remoteBlock is the address block of a request's remote address
// (peers.AddressBlock of its IP address).
func remoteBlock(remoteAddr string) string { return peers.AddressBlock(remoteAddr) }

// rateTable is a token bucket per key, for at most max keys; the least
// recently used key is forgotten first (it comes back with a full bucket,
// so the table's bound caps memory, not rates: the block limit is what
// holds a caller with many fresh identities).
type rateTable[K comparable] struct {
	rate, burst float64
	max         int

	mu    sync.Mutex
	lru   list.List // of *rateEntry[K], most recent first
	byKey map[K]*list.Element
}

type rateEntry[K comparable] struct {
	key    K
	tokens float64
	last   time.Time
}

func newRateTable[K comparable](rate float64, max int) *rateTable[K] {
	return &rateTable[K]{rate: rate, burst: 2 * rate, max: max, byKey: make(map[K]*list.Element)}
}

// take spends one token of key. When none is left it returns how long
// until one is.
func (t *rateTable[K]) take(key K, now time.Time) (ok bool, wait time.Duration) {
	if t.rate <= 0 {
		return true, 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var e *rateEntry[K]
	if el, found := t.byKey[key]; found {
		t.lru.MoveToFront(el)
		e = el.Value.(*rateEntry[K])
		if dt := now.Sub(e.last).Seconds(); dt > 0 {
			e.tokens = min(t.burst, e.tokens+dt*t.rate)
		}
		e.last = now
	} else {
		if t.lru.Len() >= t.max {
			old := t.lru.Back()
			t.lru.Remove(old)
			delete(t.byKey, old.Value.(*rateEntry[K]).key)
		}
		e = &rateEntry[K]{key: key, tokens: t.burst, last: now}
		t.byKey[key] = t.lru.PushFront(e)
	}
	if e.tokens < 1 {
		return false, time.Duration((1 - e.tokens) / t.rate * float64(time.Second))
	}
	e.tokens--
	return true, 0
}

// busyFor is ErrBusy with a Retry-After hint of at least one second.
func busyFor(wait time.Duration, format string, args ...any) *Error {
	e := errorf(ErrBusy, format, args...)
	e.RetryAfter = max(time.Second, wait.Round(time.Second))
	return e
}

// LimitListener bounds the connections ln hands out: at most perBlock
// from one address block and total in all. A connection over a bound is
// closed at once, before anything is read from it.
func LimitListener(ln net.Listener, perBlock, total int) net.Listener {
	return &limitListener{Listener: ln, perBlock: perBlock, total: total, blocks: make(map[string]int)}
}

// LimitListener is the package function with the Server's configured
// limits.
func (s *Server) LimitListener(ln net.Listener) net.Listener {
	return LimitListener(ln, s.cfg.Limits.ConnsPerBlock, s.cfg.Limits.Conns)
}

type limitListener struct {
	net.Listener
	perBlock, total int

	mu      sync.Mutex
	open    int
	blocks  map[string]int
	refused int64
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		block := remoteBlock(c.RemoteAddr().String())
		l.mu.Lock()
		ok := l.open < l.total && l.blocks[block] < l.perBlock
		if ok {
			l.open++
			l.blocks[block]++
		} else {
			l.refused++
		}
		l.mu.Unlock()
		if ok {
			return &limitedConn{Conn: c, l: l, block: block}, nil
		}
		_ = c.Close()
	}
}

func (l *limitListener) done(block string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.blocks[block]--; l.blocks[block] <= 0 {
		delete(l.blocks, block)
	}
}

type limitedConn struct {
	net.Conn
	l     *limitListener
	block string
	once  sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.done(c.block) })
	return err
}

// ReadFrom keeps the connection's sendfile path for shard answers.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
