package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// Delegation (see doc.go): a node asked to store a shard it has no room
// for may forward it to a peer of its own choosing, under its own owner's
// grant, and answer with a receipt naming that peer as the holder.

// DefaultDelegationDepth is the default of Delegate.MaxDepth.
const DefaultDelegationDepth = 3

// maxDelegationTries bounds the peers a node offers one shard to.
const maxDelegationTries = 3

// Delegate configures delegation.
type Delegate struct {
	// Peers returns the peers this node may forward shards to, best
	// first; nil: the node never delegates (a full node answers 507).
	Peers func() []DelegatePeer
	// OwnerKey signs the grants of the stores, renewals and deletes at
	// the next node: the node's owner's key, so that its owner's credit
	// there pays for them. Zero: the node key, if the node is its own
	// owner; else the node never delegates.
	OwnerKey shard.PrivateKey
	// MaxDepth bounds the nodes a shard passes through, the first one
	// included (default DefaultDelegationDepth).
	MaxDepth int
	// HTTPClient is the client of the next nodes; nil: one of its own.
	HTTPClient *http.Client
}

// DelegatePeer is a node a shard may be forwarded to.
type DelegatePeer struct {
	ID    shard.PublicKey
	URL   string
	Owner shard.PublicKey // the owner its record names; zero if unknown
}

func (d *Delegate) defaults() { setDefault(&d.MaxDepth, DefaultDelegationDepth) }

// ErrLoop and ErrTooDeep refuse a delegated store that would pass a node
// twice, or more nodes than the limit.
var (
	ErrLoop    = &Error{Code: "delegation_loop", Message: "the shard already passed through this node", Status: http.StatusLoopDetected}
	ErrTooDeep = &Error{Code: "delegation_too_deep", Message: "the shard passed through too many nodes", Status: http.StatusLoopDetected}
)

// parseVia reads the via query parameter of a store: the IDs of the nodes
// the shard passed through before this one, comma-separated hex.
func (s *Server) parseVia(r *http.Request) ([]shard.PublicKey, error) {
	v := r.URL.Query().Get("via")
	if v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	if len(parts) >= s.cfg.Delegate.MaxDepth {
		return nil, errorf(ErrTooDeep, "the shard passed through %d nodes, at most %d may hold it", len(parts)+1, s.cfg.Delegate.MaxDepth)
	}
	via := make([]shard.PublicKey, len(parts))
	for i, p := range parts {
		b, err := hex.DecodeString(p)
		if err != nil || len(b) != len(via[i]) {
			return nil, errorf(ErrBadRequest, "via must be comma-separated node IDs in hex")
		}
		copy(via[i][:], b)
		if via[i] == s.self {
			return nil, errorf(ErrLoop, "the shard passed through this node already")
		}
	}
	return via, nil
}

// canDelegate reports whether this node may forward a shard that passed
// through via: delegation is on and the next node stays within the depth.
func (s *Server) canDelegate(via []shard.PublicKey) bool {
	return s.cfg.Delegate.Peers != nil && !s.cfg.Delegate.OwnerKey.IsZero() && len(via)+2 <= s.cfg.Delegate.MaxDepth
}

// delegateShard answers a store this node has no room for (full is that
// refusal) by forwarding the shard to a peer: the owner's credit here,
// this node's upload limits and the body's deadline apply as to a store;
// the receipt names the peer as the holder. If no peer takes it, the
// answer is full.
func (s *Server) delegateShard(w http.ResponseWriter, r *http.Request, c *call, g shard.Grant, via []shard.PublicKey, now time.Time, full error) error {
	id, size := g.Shard, g.Size
	if _, err := s.db.HeldShard(id); err == nil {
		return full // held here already (for another owner): only its bytes could be stored
	}
	var peers []DelegatePeer
	for _, p := range s.cfg.Delegate.Peers() {
		if p.ID != s.self && p.ID != c.peer && p.Owner != g.Owner && !slices.Contains(via, p.ID) {
			peers = append(peers, p) // not back, and not to the owner's own nodes
		}
		if len(peers) == maxDelegationTries {
			break
		}
	}
	if len(peers) == 0 {
		return full
	}
	up, err := s.admitUpload(g.Owner, c.peer, c.block, size, true)
	if errors.Is(err, ErrNoCredit) {
		return full // full first: forwarding is a favour the owner's credit here does not cover
	}
	if err != nil {
		return err
	}
	defer up.done()
	_ = c.rc.SetReadDeadline(s.transferDeadline(size))
	_ = c.rc.SetWriteDeadline(s.transferDeadline(2 * size))
	ctx := r.Context()
	// A small body is read first, so that it can be offered to several
	// peers; a large one is sent as it arrives, to the first peer that
	// accepts it before its body is sent (Expect: 100-continue).
	var small []byte
	body := &stepReader{r: r.Body, up: up}
	if size < expectContinueMin {
		small = make([]byte, size)
		if _, err := io.ReadFull(body, small); err != nil {
			return bodyError(err, body.n, size)
		}
	}
	chain := append(slices.Clone(via), s.self)
	for _, p := range peers {
		if small == nil && body.n > 0 {
			break // a large body is on its way to a peer that failed
		}
		var src io.Reader = body
		if small != nil {
			src = bytes.NewReader(small)
		}
		rc, err := s.forward(ctx, p, id, src, size, g.LeaseExpiry, chain, now)
		if err != nil {
			s.log.DebugContext(ctx, "delegating a shard: peer refused", "shard", id.String(), "peer", p.ID.String(), "err", err)
			continue
		}
		if small == nil && body.n != size {
			return errorf(ErrBadRequest, "body ended after %d of %d bytes", body.n, size)
		}
		hd, err := s.commitDelegated(ctx, g, c.block, p, rc, now)
		if err != nil {
			s.releaseAt(context.WithoutCancel(ctx), p.ID, p.URL, id, size)
			return err
		}
		if err := s.settleCredit(g.Owner); err != nil {
			s.log.WarnContext(ctx, "settling an owner's credit", "err", err)
		}
		out := s.receipt(id, size, hd, now)
		out.Holder = p.ID
		out.Sign(s.cfg.Key)
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	return full
}

// stepReader reads an upload's body, reserving its next step (its
// address block's and owner's share of what is in flight) as it goes.
type stepReader struct {
	r  io.Reader
	up *upload
	n  int64
}

func (b *stepReader) Read(p []byte) (int, error) {
	if b.n >= b.up.size {
		return 0, io.EOF
	}
	if b.n == b.up.reserved {
		if err := b.up.reserveNext(); err != nil {
			return 0, err
		}
	}
	m, err := b.r.Read(p[:min(int64(len(p)), b.up.reserved-b.n)])
	b.n += int64(m)
	if err == io.EOF && b.n < b.up.size {
		err = io.ErrUnexpectedEOF
	}
	return m, err
}

// client returns a client of peer p signing as this node.
func (s *Server) delegateClient(id shard.PublicKey, url string) *Client {
	return NewClient(url, s.cfg.Key, s.cfg.Delegate.HTTPClient, WithPeerID(id), WithClientClock(s.cfg.Now))
}

// ownerGrant is this node's owner's grant of op on shard id at the next
// node.
func (s *Server) ownerGrant(op shard.GrantOp, id shard.ID, size, lease int64, now time.Time) shard.Grant {
	g := shard.Grant{Op: op, Shard: id, Size: size, LeaseExpiry: lease, Time: now.UnixNano()}
	g.Sign(s.cfg.Delegate.OwnerKey)
	return g
}

// forward stores the shard at peer p under this node's owner's grant, as
// one more hop of chain, and returns p's custody receipt.
func (s *Server) forward(ctx context.Context, p DelegatePeer, id shard.ID, body io.Reader, size, lease int64, chain []shard.PublicKey, now time.Time) (shard.Receipt, error) {
	ids := make([]string, len(chain))
	for i, n := range chain {
		ids[i] = hex.EncodeToString(n[:])
	}
	g := s.ownerGrant(shard.OpStore, id, size, lease, now)
	return s.delegateClient(p.ID, p.URL).putShard(ctx, id, body, size, g, strings.Join(ids, ","))
}

// commitDelegated records a delegated shard: the owner's holding (counted
// in its totals, not against this node's disk) and where it went, in one
// batch, under the shard's lock.
func (s *Server) commitDelegated(ctx context.Context, g shard.Grant, block string, p DelegatePeer, rc shard.Receipt, now time.Time) (meta.Holding, error) {
	rj, err := json.Marshal(rc)
	if err != nil {
		return meta.Holding{}, err
	}
	mu := s.lock(g.Shard)
	mu.Lock()
	defer mu.Unlock()
	hd := meta.Holding{Owner: g.Owner, LeaseExpiry: g.LeaseExpiry, StoredAt: now.UnixNano()}
	err = s.db.Update(func(b *meta.Batch) error {
		if _, err := b.HeldShard(g.Shard); err == nil {
			return errorf(ErrConflict, "shard %s was stored here meanwhile", g.Shard)
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		if last, err := b.LastGrant(g.Shard, g.Owner); err != nil {
			return err
		} else if g.Time <= last {
			return ErrStaleGrant
		}
		rec := meta.HeldShard{ID: g.Shard, Size: g.Size, StoredAt: now.UnixNano(), Location: meta.LocationDelegated}
		rec.SetHolding(hd)
		if err := addHolding(b, g.Owner, g.Size); err != nil {
			return err
		}
		if err := b.PutHeldShard(rec); err != nil {
			return err
		}
		if err := b.PutDelegation(meta.Delegation{Shard: g.Shard, Next: p.ID, Address: p.URL, Receipt: rj, LeaseExpiry: rc.LeaseExpiry}); err != nil {
			return err
		}
		if s.enforced(g.Owner) {
			if err := b.SetOwnerBlock(g.Owner, block); err != nil {
				return err
			}
		}
		return b.SetLastGrant(g.Shard, g.Owner, g.Time)
	})
	return hd, err
}

// releaseAt releases this node's owner's holding of shard id at the next
// node, best effort: if it fails, the holding there lapses with its lease.
func (s *Server) releaseAt(ctx context.Context, next shard.PublicKey, url string, id shard.ID, size int64) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	g := s.ownerGrant(shard.OpDelete, id, size, 0, s.cfg.Now())
	if err := s.delegateClient(next, url).DeleteShard(ctx, id, g); err != nil && !errors.Is(err, ErrNotFound) {
		s.log.WarnContext(ctx, "releasing a delegated shard at the next node", "shard", id.String(), "next", next.String(), "err", err)
	}
}

// released is a delegated shard whose last holding went: its holding at
// the next node is to be released.
type released struct {
	id   shard.ID
	size int64
	d    meta.Delegation
}

// dropDelegated deletes the record of a delegated shard whose last
// holding went, in batch b, and returns what to release at the next node.
func dropDelegated(b *meta.Batch, rec meta.HeldShard) (released, error) {
	d, err := b.Delegation(rec.ID)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return released{}, err
	}
	return released{id: rec.ID, size: rec.Size, d: d}, b.DeleteHeldShard(rec.ID)
}

// failingSet is the delegated shards whose next node failed the last
// relayed proof. It holds at most one entry per delegated shard.
type failingSet struct {
	mu sync.Mutex
	m  map[shard.ID]bool
}

func (f *failingSet) set(id shard.ID, failed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case failed && f.m == nil:
		f.m = map[shard.ID]bool{id: true}
	case failed:
		f.m[id] = true
	default:
		delete(f.m, id)
	}
}

func (f *failingSet) has(id shard.ID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[id]
}

// release releases the holdings of rs at their next nodes.
func (s *Server) release(ctx context.Context, rs []released) {
	for _, r := range rs {
		s.failing.set(r.id, false)
		if r.d.Next != (shard.PublicKey{}) {
			s.releaseAt(ctx, r.d.Next, r.d.Address, r.id, r.size)
		}
	}
}

// proxyGet serves a delegated shard's bytes (or a range of them) from the
// next node. The bytes are not checked here: the owner verifies every
// byte against the shard ID.
func (s *Server) proxyGet(w http.ResponseWriter, r *http.Request, c *call, id shard.ID, size int64, d meta.Delegation) error {
	off, n, partial, err := parseRange(r.Header.Get("Range"), size)
	if err != nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		return err
	}
	_ = c.rc.SetWriteDeadline(s.transferDeadline(n))
	body, err := s.delegateClient(d.Next, d.Address).GetShard(r.Context(), id, off, n)
	if err != nil {
		return wrapf(ErrBadResponse, err, "the next holder of shard %s: %v", id, err)
	}
	defer body.Close()
	writeShardHeader(w, id, off, n, size, partial)
	if _, err := io.Copy(w, io.LimitReader(body, n)); err != nil {
		return fmt.Errorf("node: relay shard %s: %w", id, err)
	}
	return nil
}

// proxyProof answers an audit of a delegated shard: the next node's
// answer for the same leaf and nonce, checked (its signature, its Merkle
// path to the shard ID) and signed again by this node, which stays
// answerable for it.
func (s *Server) proxyProof(ctx context.Context, id shard.ID, leaf uint64, nonce []byte, d meta.Delegation) (Audit, error) {
	a, err := s.delegateClient(d.Next, d.Address).Proof(ctx, id, leaf, nonce)
	s.failing.set(id, err != nil)
	if err != nil {
		return a, wrapf(ErrBadResponse, err, "the next holder of shard %s: %v", id, err)
	}
	a.Time = s.cfg.Now().UnixNano()
	a.Sign(s.cfg.Key)
	return a, nil
}

// renewAt extends this node's owner's leases at the next nodes of the
// delegated shards in ds to expiry (when it is later than what they
// hold), one batch per next node, best effort: a renewal that fails is
// tried again at the owner's next one.
func (s *Server) renewAt(ctx context.Context, ds []meta.Delegation, expiry int64) {
	byNext := make(map[shard.PublicKey][]meta.Delegation)
	for _, d := range ds {
		if d.LeaseExpiry < expiry {
			byNext[d.Next] = append(byNext[d.Next], d)
		}
	}
	for next, ds := range byNext {
		for chunk := range slices.Chunk(ds, shard.MaxRenewBatch) {
			ids := make([]shard.ID, len(chunk))
			for i, d := range chunk {
				ids[i] = d.Shard
			}
			slices.SortFunc(ids, func(a, b shard.ID) int { return bytes.Compare(a[:], b[:]) })
			rb := shard.RenewBatch{Node: next, LeaseExpiry: expiry, Time: s.cfg.Now().UnixNano(), Shards: ids}
			rb.Sign(s.cfg.Delegate.OwnerKey)
			rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
			ans, err := s.delegateClient(next, chunk[0].Address).RenewBatch(rctx, rb)
			cancel()
			if err != nil {
				s.log.WarnContext(ctx, "renewing delegated shards at the next node", "next", next.String(), "shards", len(ids), "err", err)
				continue
			}
			renewed := make(map[shard.ID]bool, len(ans.Renewed))
			for _, id := range ans.Renewed {
				renewed[id] = true
			}
			if err := s.db.Update(func(b *meta.Batch) error {
				for _, d := range chunk {
					if renewed[d.Shard] {
						d.LeaseExpiry = expiry
						if err := b.PutDelegation(d); err != nil {
							return err
						}
					}
				}
				return nil
			}); err != nil {
				s.log.WarnContext(ctx, "recording delegated renewals", "err", err)
			}
			if len(ans.NotHeld) > 0 {
				s.log.WarnContext(ctx, "the next node no longer holds delegated shards", "next", next.String(), "shards", len(ans.NotHeld))
			}
		}
	}
}

// Delegated returns the bytes of the shards this node delegated, by the
// next node holding them (each shard's size plus meta.HoldingOverhead, as
// the next node counts them), but for those whose next node failed the
// last proof relayed to it: what the next node's owner is credited for.
func (s *Server) Delegated() (map[shard.PublicKey]int64, error) { return s.delegated(true) }

// delegated is Delegated, with the failing ones unless skipFailing.
func (s *Server) delegated(skipFailing bool) (map[shard.PublicKey]int64, error) {
	out := make(map[shard.PublicKey]int64)
	var after [32]byte
	for {
		page, err := s.db.Delegations(after, 1024)
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			rec, err := s.db.HeldShard(d.Shard)
			if err != nil || (skipFailing && s.failing.has(d.Shard)) {
				continue
			}
			out[shard.PublicKey(d.Next)] += rec.Size + meta.HoldingOverhead
		}
		if len(page) < 1024 {
			return out, nil
		}
		after = page[len(page)-1].Shard
	}
}
