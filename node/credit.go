package node

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"ishtar/meta"
	"ishtar/shard"
)

// Fair exchange: 1 MB given earns 1 MB stored. For every other owner X
// the node keeps a ledger: held_for(X), the bytes it holds for X (its
// holdings, meta.OwnerHeld, each shard's size plus meta.HoldingOverhead),
// and held_by(X), the bytes X's nodes hold for this node's owner while
// the owner's audits of them pass (Credit.HeldBy: the owner's gateway
// knows). A store of size bytes from X is accepted while
//
//	held_for(X) + size + HoldingOverhead <= held_by(X) + Grace
//
// What an owner holds here beyond what its nodes hold for us is its debt,
// extended on grace. The debts of all owners together stay within
// StrangerShare of the capacity, and those of the owners whose last store
// came from one address block within Grace, so that a thousand fresh
// identities earn no more than one. A refusal is ErrNoCredit; the node's
// own owner is never refused for credit.

// DefaultCreditGrace is the default of Credit.Grace.
const DefaultCreditGrace = 256 << 20

// DefaultStrangerShare is the default of Credit.StrangerShare.
const DefaultStrangerShare = 0.1

// Credit is the fair exchange rule.
type Credit struct {
	// Grace is how much more an owner may store here than its nodes hold
	// for this node's owner (default DefaultCreditGrace; negative: none).
	// (Setting: node.credit_grace.)
	Grace int64
	// StrangerShare bounds the debts of all owners together, as a share
	// of the capacity, in [0, 1] (default DefaultStrangerShare; negative:
	// none). (Setting: node.stranger_share.)
	StrangerShare float64
	// HeldBy returns the bytes owner's nodes hold for this node's owner,
	// counted while the owner's audits of them pass. The rule is applied
	// only when it is set (a daemon always sets it): a bare Server, as in
	// tests of other things, extends unlimited credit.
	HeldBy func(owner shard.PublicKey) int64
}

func (c *Credit) defaults() {
	setDefault(&c.Grace, DefaultCreditGrace)
	setDefault(&c.StrangerShare, DefaultStrangerShare)
}

func (c *Credit) validate() error {
	if c.StrangerShare > 1 {
		return fmt.Errorf("stranger share %v above 1", c.StrangerShare)
	}
	return nil
}

// grace returns the grace in bytes (none when negative).
func (c *Credit) grace() int64 { return max(c.Grace, 0) }

// ledger is the node's running account of the debts of other owners: the
// committed ones (settled from the catalog) and those reserved by uploads
// in flight. Entries exist only for owners with a debt or an upload in
// flight.
type ledger struct {
	mu     sync.Mutex
	owners map[shard.PublicKey]*account
	blocks map[string]int64 // debts (committed and reserved) by address block
	total  int64            // debts of all owners (committed and reserved)
}

// account is one owner's debt.
type account struct {
	debt     int64  // committed: max(0, held_for - held_by) when last settled
	block    string // address block the committed debt counts under
	inflight int64  // bytes of uploads in flight (shard size + overhead)
	reserved int64  // debt those uploads add
}

func newLedger() *ledger {
	return &ledger{owners: make(map[shard.PublicKey]*account), blocks: make(map[string]int64)}
}

// credit is one upload's reservation against its owner's credit. The
// owner's own grace is charged the whole debt the upload would add at
// once; the shared bounds (all owners, the address block) only as its
// body arrives, so that uploads declaring large shards and sending
// nothing hold no more of them than they hold capacity (see admission).
type credit struct {
	owner  shard.PublicKey
	block  string
	bytes  int64 // shard size plus overhead
	debt   int64 // debt the upload adds to its owner's
	pooled int64 // of it, charged to the shared bounds so far
}

// enforced reports whether owner's stores are subject to credit.
func (s *Server) enforced(owner shard.PublicKey) bool {
	return s.cfg.Credit.HeldBy != nil && owner != s.cfg.Owner
}

// reserveCredit admits a store of size bytes for owner from address block
// or refuses it with ErrNoCredit; nil when owner's stores are not subject
// to credit. The reservation is given back with releaseCredit.
func (s *Server) reserveCredit(owner shard.PublicKey, block string, size int64) (*credit, error) {
	if !s.enforced(owner) {
		return nil, nil
	}
	by := max(s.cfg.Credit.HeldBy(owner), 0)
	grace := s.cfg.Credit.grace()
	cr := &credit{owner: owner, block: block, bytes: size + meta.HoldingOverhead}
	l := s.ledger
	l.mu.Lock() // held under it: a concurrent commit settles before or after
	defer l.mu.Unlock()
	held, err := s.db.OwnerHeld(owner)
	if err != nil {
		return nil, fmt.Errorf("node: read owner totals: %w", err)
	}
	a := l.account(owner)
	l.settle(owner, a, held, by)
	cur := a.debt + a.reserved
	next := max(0, held.Bytes+a.inflight+cr.bytes-by)
	cr.debt = max(0, next-cur)
	if next > grace {
		l.forget(owner, a)
		return nil, errorf(ErrNoCredit, "this node holds %d bytes for the owner and %d more are on their way; its nodes hold %d for this node's owner; the grace is %d bytes",
			held.Bytes, a.inflight, by, grace)
	}
	if err := s.pool(cr, min(size, reserveStep)); err != nil {
		l.forget(owner, a)
		return nil, err
	}
	a.inflight += cr.bytes
	a.reserved += cr.debt
	return cr, nil
}

// pool charges the shared bounds with the debt of the first received
// bytes of cr's upload. The caller holds the ledger's mu.
func (s *Server) pool(cr *credit, received int64) error {
	n := min(cr.debt, received+meta.HoldingOverhead) - cr.pooled
	if n <= 0 {
		return nil
	}
	l, grace, strangers := s.ledger, s.cfg.Credit.grace(), s.strangerCap()
	switch {
	case l.total+n > strangers:
		return errorf(ErrNoCredit, "the grace this node extends to all owners together (%d bytes) is used up", strangers)
	case l.blocks[cr.block]+n > grace:
		return errorf(ErrNoCredit, "owners storing from address block %s hold %d bytes on grace, at most %d", cr.block, l.blocks[cr.block], grace)
	}
	l.total += n
	l.blocks[cr.block] += n
	cr.pooled += n
	return nil
}

// growCredit charges the shared bounds as the body of cr's upload
// arrives: received bytes of it are reserved.
func (s *Server) growCredit(cr *credit, received int64) error {
	if cr == nil {
		return nil
	}
	s.ledger.mu.Lock()
	defer s.ledger.mu.Unlock()
	return s.pool(cr, received)
}

// strangerCap is the bound of all owners' debts together.
func (s *Server) strangerCap() int64 {
	return int64(max(s.cfg.Credit.StrangerShare, 0) * float64(s.cfg.Capacity))
}

// releaseCredit gives back an upload's reservation, after its commit was
// settled (settleCredit) or it failed.
func (s *Server) releaseCredit(cr *credit) {
	if cr == nil {
		return
	}
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.owners[cr.owner]
	a.inflight -= cr.bytes
	a.reserved -= cr.debt
	l.total -= cr.pooled
	l.addBlock(cr.block, -cr.pooled)
	l.forget(cr.owner, a)
}

// settleCredit recomputes owner's committed debt from the catalog (its
// totals and the address block of its last store), after its holdings
// changed.
func (s *Server) settleCredit(owner shard.PublicKey) error {
	if !s.enforced(owner) {
		return nil
	}
	by := max(s.cfg.Credit.HeldBy(owner), 0)
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	held, err := s.db.OwnerHeld(owner)
	if err != nil {
		return fmt.Errorf("node: read owner totals: %w", err)
	}
	a := l.account(owner)
	l.settle(owner, a, held, by)
	l.forget(owner, a)
	return nil
}

// RefreshCredit settles every owner's debt anew from the catalog and
// Credit.HeldBy: after what other owners hold for this one changed, and
// after holdings expired.
func (s *Server) RefreshCredit() error {
	if s.cfg.Credit.HeldBy == nil {
		return nil
	}
	seen := make(map[shard.PublicKey]bool)
	err := s.db.EachOwnerHeld(func(o meta.OwnerHeld) error {
		owner := shard.PublicKey(o.Owner)
		if !s.enforced(owner) {
			return nil
		}
		seen[owner] = true
		return s.settleCredit(owner) // read again under the ledger's lock
	})
	if err != nil {
		return fmt.Errorf("node: refresh credit: %w", err)
	}
	// The owners with a debt the scan did not see: the node no longer
	// holds anything for them (or their first store came meanwhile).
	l := s.ledger
	l.mu.Lock()
	var rest []shard.PublicKey
	for owner := range l.owners {
		if !seen[owner] {
			rest = append(rest, owner)
		}
	}
	l.mu.Unlock()
	for _, owner := range rest {
		if err := s.settleCredit(owner); err != nil {
			return err
		}
	}
	return nil
}

// account returns owner's account, creating it. The caller holds mu.
func (l *ledger) account(owner shard.PublicKey) *account {
	a := l.owners[owner]
	if a == nil {
		a = &account{}
		l.owners[owner] = a
	}
	return a
}

// settle sets a's committed debt from owner's totals held and what its
// nodes hold for us, by. The caller holds mu.
func (l *ledger) settle(owner shard.PublicKey, a *account, held meta.OwnerHeld, by int64) {
	debt := max(0, held.Bytes-by)
	l.total += debt - a.debt
	l.addBlock(a.block, -a.debt)
	a.debt = debt
	if held.Block != "" {
		a.block = held.Block
	}
	l.addBlock(a.block, debt)
}

func (l *ledger) addBlock(block string, n int64) {
	if n == 0 {
		return
	}
	if l.blocks[block] += n; l.blocks[block] == 0 {
		delete(l.blocks, block)
	}
}

// forget drops a's entry if it owes nothing and has nothing in flight.
// The caller holds mu.
func (l *ledger) forget(owner shard.PublicKey, a *account) {
	if a.debt == 0 && a.inflight == 0 && a.reserved == 0 {
		delete(l.owners, owner)
	}
}

// Counterpart is one owner's ledger line as this node sees it.
type Counterpart struct {
	Owner   shard.PublicKey `json:"owner"`
	HeldFor int64           `json:"held_for"` // bytes this node holds for the owner
	HeldBy  int64           `json:"held_by"`  // bytes the owner's nodes hold for this node's owner
	// Credit is what the owner may still store here: HeldBy + grace -
	// HeldFor (negative: over, after held_by fell).
	Credit int64 `json:"credit"`
}

// LedgerView is the node's side of the exchange, for `ishtar status`
// (Usage has its capacity and use).
type LedgerView struct {
	// HeldForOwn is what the node holds for its own owner.
	HeldForOwn int64 `json:"held_for_own"`
	// HeldForOthers is what it holds for other owners.
	HeldForOthers int64 `json:"held_for_others"`
	// Debts is what other owners hold here on grace, within StrangerCap.
	Debts       int64 `json:"debts"`
	StrangerCap int64 `json:"stranger_cap"`
	Grace       int64 `json:"grace"`
	Owners      int   `json:"owners"` // other owners the node holds anything for
	// Delegated is what the node forwarded to other nodes (bytes plus
	// overhead), which hold it for its owner; it counts in HeldForOwn
	// and HeldForOthers as the holdings it is.
	Delegated int64 `json:"delegated"`
	// Top lists the counterparts with the most held for them.
	Top []Counterpart `json:"top"`
}

// Ledger returns the node's ledger, with the top counterparts by bytes
// held for them (top <= 0: none listed).
func (s *Server) Ledger(top int) (LedgerView, error) {
	v := LedgerView{Grace: s.cfg.Credit.grace(), StrangerCap: s.strangerCap()}
	var all []Counterpart
	err := s.db.EachOwnerHeld(func(o meta.OwnerHeld) error {
		owner := shard.PublicKey(o.Owner)
		if owner == s.cfg.Owner {
			v.HeldForOwn += o.Bytes
			return nil
		}
		v.HeldForOthers += o.Bytes
		v.Owners++
		c := Counterpart{Owner: owner, HeldFor: o.Bytes}
		if s.cfg.Credit.HeldBy != nil {
			c.HeldBy = max(s.cfg.Credit.HeldBy(owner), 0)
		}
		c.Credit = c.HeldBy + v.Grace - c.HeldFor
		all = append(all, c)
		return nil
	})
	if err != nil {
		return v, fmt.Errorf("node: ledger: %w", err)
	}
	dl, err := s.delegated(false)
	if err != nil {
		return v, err
	}
	for _, n := range dl {
		v.Delegated += n
	}
	s.ledger.mu.Lock()
	for _, a := range s.ledger.owners {
		v.Debts += a.debt
	}
	s.ledger.mu.Unlock()
	slices.SortFunc(all, func(a, b Counterpart) int { return cmp.Compare(b.HeldFor, a.HeldFor) })
	v.Top = all[:min(max(top, 0), len(all))]
	return v, nil
}
