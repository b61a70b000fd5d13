package peers

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// key returns the i-th test key.
func key(i int) shard.PrivateKey {
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
	seed[31] = 0x5a
	k, err := shard.PrivateKeyFromSeed(seed[:])
	if err != nil {
		panic(err)
	}
	return k
}

// selfKey is the registry's own key in tests.
var selfKey = key(1 << 40)

// signed returns node i's record at addr, signed at t.
func signed(i int, addr string, seq uint64, t time.Time) shard.NodeRecord {
	rec := shard.NodeRecord{Address: addr, Capacity: 1 << 40, Free: 1 << 39, Version: "test", Seq: seq, Time: t.Unix()}
	rec.Sign(key(i))
	return rec
}

// addrIn returns an address in the /24 block b (host h).
func addrIn(b, h int) string {
	return fmt.Sprintf("http://10.%d.%d.%d:7070", b/256%256, b%256, h%256)
}

// blockOf is the block of addrIn(b, _).
func blockOf(b int) string { return fmt.Sprintf("10.%d.%d.0/24", b/256%256, b%256) }

func id(i int) shard.PublicKey { return key(i).Public() }

type fixture struct {
	t   testing.TB
	c   *clock
	db  *meta.DB
	r   *Registry
	cfg Config
}

// open opens a registry over an in-memory catalog; mod adjusts the
// config.
func open(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	db, err := meta.Open("mem", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return openOn(t, db, newClock(), mod)
}

func openOn(t testing.TB, db *meta.DB, c *clock, mod func(*Config)) *fixture {
	t.Helper()
	cfg := Config{Self: selfKey.Public(), Now: c.Now}
	if mod != nil {
		mod(&cfg)
	}
	r, err := Open(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &fixture{t: t, c: c, db: db, r: r, cfg: cfg}
}

// add adds node i's record at addr (seq 1, signed now) from src and fails
// on refusal.
func (f *fixture) add(i int, addr, src string) shard.NodeRecord {
	f.t.Helper()
	rec := signed(i, addr, 1, f.c.Now())
	if err := f.r.Add(rec, src); err != nil {
		f.t.Fatalf("Add %d: %v", i, err)
	}
	return rec
}

// tried puts node i at addr straight into "tried".
func (f *fixture) tried(i int, addr string) shard.NodeRecord {
	f.t.Helper()
	rec := signed(i, addr, 1, f.c.Now())
	if err := f.r.Verified(rec); err != nil {
		f.t.Fatalf("Verified %d: %v", i, err)
	}
	return rec
}

func (f *fixture) get(i int) Peer {
	f.t.Helper()
	p, ok := f.r.Get(id(i))
	if !ok {
		f.t.Fatalf("node %d unknown", i)
	}
	return p
}

func (f *fixture) known(i int) bool {
	_, ok := f.r.Get(id(i))
	return ok
}

// goodHistory gives node i successes over days days, ending now.
func (f *fixture) goodHistory(i int, days int) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	e := f.r.byID[id(i)]
	now := f.c.Now().Unix()
	for d := days - 1; d >= 0; d-- {
		e.h.contact(now-int64(d)*86400, true)
	}
	f.r.markDirty(e)
}

func reasonOf(err error) Reason {
	if re, ok := err.(*RefusedError); ok {
		return re.Reason
	}
	return numReasons
}
