package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/node"
	"ishtar/shard"
)

// fakePeer is an honest in-memory storage node: it checks grants and
// shard IDs like a node does, and signs receipts with its own key.
type fakePeer struct {
	key       shard.PrivateKey
	id        shard.PublicKey
	owner     shard.PublicKey
	blockSize int
	capacity  int64 // 0: unlimited

	mu      sync.Mutex
	shards  map[shard.ID][]byte
	used    int64
	deletes []shard.Grant // valid delete grants received
	served  int64         // bytes served by GetShard
	gets    int
	puts    int
	deleted chan shard.ID // told of every delete, if set
	stored  chan shard.ID // told of every store, if set
}

func newFakePeer(owner shard.PublicKey, blockSize int) *fakePeer {
	k, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return &fakePeer{key: k, id: k.Public(), owner: owner, blockSize: blockSize, shards: make(map[shard.ID][]byte)}
}

func (p *fakePeer) PutShard(ctx context.Context, id shard.ID, body io.Reader, size int64, g shard.Grant) (shard.Receipt, error) {
	if err := g.Verify(); err != nil {
		return shard.Receipt{}, fmt.Errorf("fake: grant: %w", err)
	}
	if g.Op != shard.OpStore || g.Shard != id || g.Size != size || g.Owner != p.owner {
		return shard.Receipt{}, fmt.Errorf("fake: grant for %v %s size %d", g.Op, g.Shard, g.Size)
	}
	data, err := io.ReadAll(io.LimitReader(body, size+1))
	if err != nil {
		return shard.Receipt{}, fmt.Errorf("fake: read: %w", err)
	}
	if int64(len(data)) != size {
		return shard.Receipt{}, fmt.Errorf("fake: got %d bytes, want %d", len(data), size)
	}
	if err := shard.Verify(id, data, p.blockSize); err != nil {
		return shard.Receipt{}, fmt.Errorf("fake: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.shards[id]; !ok {
		if p.capacity > 0 && p.used+size > p.capacity {
			return shard.Receipt{}, fmt.Errorf("fake: %w", segstore.ErrPeerFull)
		}
		p.shards[id] = data
		p.used += size
	}
	p.puts++
	if p.stored != nil {
		p.stored <- id
	}
	r := shard.Receipt{Shard: id, Size: size, Owner: g.Owner, LeaseExpiry: g.LeaseExpiry, Time: g.Time}
	r.Sign(p.key)
	return r, nil
}

func (p *fakePeer) GetShard(ctx context.Context, id shard.ID, off, n int64) (io.ReadCloser, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	data, ok := p.shards[id]
	if !ok {
		return nil, fmt.Errorf("fake: %s: %w", id, segstore.ErrShardNotFound)
	}
	if n < 0 {
		n = int64(len(data)) - off
	}
	if off < 0 || off+n > int64(len(data)) {
		return nil, fmt.Errorf("fake: range %d+%d of %d", off, n, len(data))
	}
	p.served += n
	p.gets++
	return io.NopCloser(bytes.NewReader(data[off : off+n])), nil
}

func (p *fakePeer) DeleteShard(ctx context.Context, id shard.ID, g shard.Grant) error {
	if err := g.Verify(); err != nil {
		return fmt.Errorf("fake: delete grant: %w", err)
	}
	if g.Op != shard.OpDelete || g.Shard != id || g.Owner != p.owner {
		return fmt.Errorf("fake: delete grant for %v %s by %s", g.Op, g.Shard, g.Owner)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deletes = append(p.deletes, g)
	if p.deleted != nil {
		select {
		case p.deleted <- id:
		default:
		}
	}
	data, ok := p.shards[id]
	if !ok {
		return fmt.Errorf("fake: %s: %w", id, segstore.ErrShardNotFound)
	}
	p.used -= int64(len(data))
	delete(p.shards, id)
	return nil
}

// ids returns the shards the peer holds.
func (p *fakePeer) ids() map[shard.ID]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[shard.ID]bool, len(p.shards))
	for id := range p.shards {
		m[id] = true
	}
	return m
}

func (p *fakePeer) deleteGrants() []shard.Grant {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]shard.Grant(nil), p.deletes...)
}

func (p *fakePeer) counters() (served int64, gets, puts int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.served, p.gets, p.puts
}

// fault is a misbehaviour of a faulty peer.
type fault int32

const (
	healthy       fault = iota
	offline             // every call fails at once
	hang                // every call blocks until its context ends
	flipBits            // GetShard flips a bit of what it serves
	truncate            // GetShard serves half of what was asked
	wrongShard          // GetShard serves bytes of another shard
	refuse              // PutShard refuses for lack of space
	badReceipt          // PutShard answers a receipt signed by another key
	forgedReceipt       // PutShard answers a receipt naming the node, signed by another key
	busy                // every call answers node.ErrBusy with the peer's hint
)

func (f fault) String() string {
	return [...]string{"healthy", "offline", "hang", "flip", "truncate", "wrong-shard", "refuse", "bad-receipt",
		"forged-receipt", "busy"}[f]
}

var errOffline = errors.New("fake: connection refused")

// faulty decorates a peer with a switchable fault.
type faulty struct {
	inner *fakePeer
	mode  atomic.Int32
	hint  atomic.Int64 // Retry-After of busy answers (ns)
	puts  atomic.Int64 // PutShard calls, whatever they answered
	calls atomic.Int64 // calls of any method
	// healAfter, if > 0, is the number of faulty answers after which the
	// peer is healthy again.
	healAfter atomic.Int64
}

func (f *faulty) set(m fault) { f.mode.Store(int32(m)) }

// get returns the fault of the next answer, counting it towards healAfter.
func (f *faulty) get() fault {
	m := fault(f.mode.Load())
	if m != healthy && f.healAfter.Load() > 0 && f.healAfter.Add(-1) == 0 {
		f.set(healthy)
	}
	return m
}

// common returns the fault of this call, and the error it answers if the
// fault is one every call has.
func (f *faulty) common(ctx context.Context) (fault, error) {
	f.calls.Add(1)
	m := f.get()
	switch m {
	case offline:
		return m, errOffline
	case hang:
		<-ctx.Done()
		return m, ctx.Err()
	case busy:
		return m, &node.Error{Code: node.ErrBusy.Code, Message: "fake: busy", Status: node.ErrBusy.Status,
			RetryAfter: time.Duration(f.hint.Load())}
	}
	return m, nil
}

func (f *faulty) PutShard(ctx context.Context, id shard.ID, body io.Reader, size int64, g shard.Grant) (shard.Receipt, error) {
	f.puts.Add(1)
	mode, err := f.common(ctx)
	if err != nil {
		return shard.Receipt{}, err
	}
	switch mode {
	case refuse:
		return shard.Receipt{}, fmt.Errorf("fake: %w", segstore.ErrPeerFull)
	case badReceipt, forgedReceipt:
		r, err := f.inner.PutShard(ctx, id, body, size, g)
		signer := r.Node
		other, _ := shard.GeneratePrivateKey(rand.Reader)
		r.Sign(other)
		if mode == forgedReceipt {
			r.Node = signer
		}
		return r, err
	}
	return f.inner.PutShard(ctx, id, body, size, g)
}

func (f *faulty) GetShard(ctx context.Context, id shard.ID, off, n int64) (io.ReadCloser, error) {
	mode, err := f.common(ctx)
	if err != nil {
		return nil, err
	}
	if mode == wrongShard {
		// Serve the same range of any other shard the node holds.
		for other := range f.inner.ids() {
			if other != id {
				if rc, err := f.inner.GetShard(ctx, other, off, n); err == nil {
					return rc, nil
				}
			}
		}
		b := make([]byte, n)
		rand.Read(b)
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	rc, err := f.inner.GetShard(ctx, id, off, n)
	if err != nil {
		return nil, err
	}
	data, _ := io.ReadAll(rc)
	switch mode {
	case flipBits:
		if len(data) > 0 {
			data[len(data)/2] ^= 0x10
		}
	case truncate:
		data = data[:len(data)/2]
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (f *faulty) DeleteShard(ctx context.Context, id shard.ID, g shard.Grant) error {
	if _, err := f.common(ctx); err != nil {
		return err
	}
	return f.inner.DeleteShard(ctx, id, g)
}
