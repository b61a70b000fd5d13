package daemon

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"ishtar/gateway/upkeep"
	"ishtar/meta"
	"ishtar/node"
	"ishtar/node/peers"
	"ishtar/shard"
)

// The owner's side of fair exchange: what each other owner's nodes hold
// for this owner, counted while the owner's audits of them pass
// (upkeep.HeldBy, by node, summed by the owner each node's record names).
// The node applies it to its own ledger (node.Credit.HeldBy), and the
// gateway's placement tries first the peers whose owners owe this one
// space (segstore.PeerInfo.Creditor). It is refreshed at start, after
// each discovery round's first pass and every upkeep interval.

// heldBy is what other owners' nodes hold for this owner.
type heldBy struct {
	byOwner   atomic.Pointer[map[shard.PublicKey]int64]
	byNode    atomic.Pointer[map[shard.PublicKey]int64]
	creditors atomic.Pointer[map[shard.PublicKey]bool]
	mu        sync.Mutex // one refresh at a time
}

// creditor reports whether owner owes this owner space (see creditors).
func (h *heldBy) creditor(owner shard.PublicKey) bool {
	if m := h.creditors.Load(); m != nil {
		return (*m)[owner]
	}
	return false
}

// get returns what owner's nodes hold for this owner (node.Credit.HeldBy).
func (h *heldBy) get(owner shard.PublicKey) int64 {
	if m := h.byOwner.Load(); m != nil {
		return (*m)[owner]
	}
	return 0
}

// refreshLedger recomputes what other owners hold for this one from the
// catalog and the registry, and settles the node's ledger with it. A
// storage-only node's owner has no catalog here: nothing is held for it.
func (d *Daemon) refreshLedger() error {
	h := &d.held
	h.mu.Lock()
	defer h.mu.Unlock()
	byOwner := make(map[shard.PublicKey]int64)
	byNode := make(map[shard.PublicKey]int64)
	if !d.cfg.StorageOnly {
		var err error
		if byNode, err = upkeep.HeldBy(d.db); err != nil {
			return err
		}
	}
	if d.node != nil {
		// What this node delegated is held for its owner by the next
		// nodes.
		dl, err := d.node.Delegated()
		if err != nil {
			return err
		}
		for id, n := range dl {
			byNode[id] += n
		}
	}
	for id, n := range byNode {
		if p, ok := d.reg.Get(id); ok && p.Tried {
			byOwner[p.Record.Owner] += n
		}
	}
	h.byOwner.Store(&byOwner)
	h.byNode.Store(&byNode)
	cr, err := d.creditors()
	if err != nil {
		return err
	}
	h.creditors.Store(&cr)
	if d.node == nil {
		return nil
	}
	if err := d.node.RefreshCredit(); err != nil {
		return err
	}
	if d.dir != nil {
		d.dir.refresh()
	}
	return nil
}

// keepLedger refreshes the ledger every interval until ctx ends.
func (d *Daemon) keepLedger(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := d.refreshLedger(); err != nil && ctx.Err() == nil {
			d.log.Warn("refreshing the exchange ledger", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// delegatePeers are the peers the node may forward shards to: the
// registry's placeable ones, those with the most free space first.
func (d *Daemon) delegatePeers() []node.DelegatePeer {
	ps := d.reg.Peers()
	slices.SortFunc(ps, func(a, b peers.Peer) int { return cmp.Compare(b.Record.Free, a.Record.Free) })
	var out []node.DelegatePeer
	for _, p := range ps {
		if p.Placeable && p.Record.Free > 0 {
			out = append(out, node.DelegatePeer{ID: p.Record.Node, URL: p.Record.Address, Owner: p.Record.Owner})
		}
	}
	return out
}

// RefreshLedger recomputes the exchange ledger now (tests; the daemon
// does it every upkeep interval).
func (d *Daemon) RefreshLedger() error { return d.refreshLedger() }

// creditors returns the owners that owe this one space: its node holds
// more for them than their nodes hold for it.
func (d *Daemon) creditors() (map[shard.PublicKey]bool, error) {
	out := make(map[shard.PublicKey]bool)
	err := d.db.EachOwnerHeld(func(o meta.OwnerHeld) error {
		if owner := shard.PublicKey(o.Owner); owner != d.ownerID() && o.Bytes > d.held.get(owner) {
			out[owner] = true
		}
		return nil
	})
	return out, err
}

// ownerID is the owner standing behind this node.
func (d *Daemon) ownerID() shard.PublicKey {
	if d.id.Owner.Signing.IsZero() {
		return d.id.Node.Public()
	}
	return d.id.Owner.Signing.Public()
}

// Exchange is the exchange as `ishtar status` shows it.
type Exchange struct {
	node.LedgerView
	// OnNetwork is what other nodes hold for this owner (audits passing),
	// its shards' bytes plus overhead (upkeep.Survey.HeldByPeers).
	OnNetwork int64 `json:"on_network"`
}

// exchange returns the exchange status with the top counterparts; the
// status fills OnNetwork from its survey.
func (d *Daemon) exchange(top int) (Exchange, error) {
	v, err := d.node.Ledger(top)
	return Exchange{LedgerView: v}, err
}
