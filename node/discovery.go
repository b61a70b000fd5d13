package node

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"ishtar/node/peers"
	"ishtar/shard"
)

// Discovery is how a node finds the network and keeps up with it, in
// rounds every Interval (with jitter):
//
//   - each tracker, and each bootstrap peer until it was reached once, is
//     challenged (a hello at its URL), sent this node's record when it
//     changed, and asked for the records that changed since the last
//     round (GET /v1/peers from a cursor kept per peer);
//   - a few random verified peers are asked the same way;
//   - records heard of but not verified are challenged at their addresses
//     (a hello signed by their key proves its holder answers there), and
//     verified ones again as their turn comes (peers.DueForChallenge);
//   - every contact's outcome goes to the registry's liveness history.
//
// Records learned from a peer count against that peer's address block in
// the registry, so no single peer's answers can fill it.
type Discovery struct {
	cfg DiscoveryConfig
	reg *peers.Registry
	log *slog.Logger

	mu        sync.Mutex
	seeds     map[string]*seed            // by URL
	clients   map[shard.PublicKey]*Client // peers asked or challenged
	cursors   map[shard.PublicKey]uint64  // per peer: where its feed was read to
	announced map[shard.PublicKey]uint64  // per peer: the Seq of the record sent
	reached   int                         // verified peers at the last log line
	rounds    int
}

// DiscoveryConfig configures a Discovery. Zero fields take the defaults
// noted.
type DiscoveryConfig struct {
	Key shard.PrivateKey
	// Record returns this node's own current record (Server.Record).
	Record func() (shard.NodeRecord, error)
	// Bootstrap lists peers to learn the network from until reached;
	// Trackers, well-known nodes asked every round.
	Bootstrap, Trackers []string
	Interval            time.Duration // default 30 s
	Partners            int           // random verified peers asked per round; default 3
	Challenges          int           // records challenged per round; default 32
	RequestTimeout      time.Duration // default 10 s
	HTTPClient          *http.Client  // nil: the Client's own
	Log                 *slog.Logger
}

type seed struct {
	url     string
	tracker bool
	client  *Client
	node    shard.PublicKey // the node that answered at url last
	reached bool            // reached once (a bootstrap peer is then asked like any other)
	failed  bool            // the last attempt failed (logged once)
}

const (
	maxClients  = 1024 // peer clients kept between rounds
	pagesPerAsk = 4    // pages of records taken from one peer per round
	parallel    = 8    // requests of a round at once
)

// NewDiscovery returns the discovery of the node with cfg.Key over reg.
func NewDiscovery(cfg DiscoveryConfig, reg *peers.Registry) *Discovery {
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.Partners <= 0 {
		cfg.Partners = 3
	}
	if cfg.Challenges <= 0 {
		cfg.Challenges = 32
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	d := &Discovery{cfg: cfg, reg: reg, log: cfg.Log, seeds: make(map[string]*seed),
		clients: make(map[shard.PublicKey]*Client), cursors: make(map[shard.PublicKey]uint64),
		announced: make(map[shard.PublicKey]uint64)}
	for _, u := range cfg.Trackers {
		d.seeds[u] = &seed{url: u, tracker: true}
	}
	for _, u := range cfg.Bootstrap {
		if d.seeds[u] == nil {
			d.seeds[u] = &seed{url: u}
		}
	}
	return d
}

// Run runs a round at once, then one every Interval with jitter, until
// ctx ends.
func (d *Discovery) Run(ctx context.Context) {
	for {
		d.Round(ctx)
		wait := time.Duration(float64(d.cfg.Interval) * (0.8 + 0.4*rand.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Round runs one round of discovery (see Discovery).
func (d *Discovery) Round(ctx context.Context) {
	own, err := d.cfg.Record()
	if err != nil {
		d.log.WarnContext(ctx, "discovery: own record", "err", err)
		return
	}
	var asked sync.Map // peers asked this round
	var wg sync.WaitGroup
	slots := make(chan struct{}, parallel)
	do := func(f func()) {
		slots <- struct{}{}
		wg.Go(func() { defer func() { <-slots }(); f() })
	}
	for _, s := range d.seedsDue() {
		do(func() { d.askSeed(ctx, s, own, &asked) })
	}
	wg.Wait()
	for _, p := range d.reg.Sample(d.cfg.Partners) {
		if _, done := asked.Load(p.Record.Node); done {
			continue
		}
		do(func() {
			c := d.client(p.Record)
			ok := d.ask(ctx, c, p.Record.Node, p.Block, own) == nil
			d.reg.Contact(p.Record.Node, ok)
		})
	}
	for _, rec := range d.reg.DueForChallenge(d.cfg.Challenges) {
		do(func() { d.challenge(ctx, rec) })
	}
	wg.Wait()
	d.mu.Lock()
	d.rounds++
	expire := d.rounds%20 == 0
	d.mu.Unlock()
	if expire {
		d.reg.Expire()
	}
	if err := d.reg.Flush(); err != nil && ctx.Err() == nil {
		d.log.WarnContext(ctx, "discovery: flush the registry", "err", err)
	}
	d.logProgress(ctx)
}

// seedsDue returns the trackers, and the bootstrap peers not reached yet.
func (d *Discovery) seedsDue() []*seed {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*seed
	for _, s := range d.seeds {
		if s.tracker || !s.reached {
			out = append(out, s)
		}
	}
	return out
}

// askSeed challenges a seed at its URL, then asks it for records and
// sends it this node's.
func (d *Discovery) askSeed(ctx context.Context, s *seed, own shard.NodeRecord, asked *sync.Map) {
	d.mu.Lock()
	if s.client == nil {
		s.client = NewClient(s.url, d.cfg.Key, d.cfg.HTTPClient)
	}
	c, known := s.client, s.node
	d.mu.Unlock()
	var rec shard.NodeRecord
	var err error
	if p, ok := d.reg.Get(known); ok && !known.IsZero() && p.Tried && !p.Moved && sameURL(p.Record.Address, s.url) {
		// Verified at this URL: the registry's turns of challenges
		// (DueForChallenge) check it again; a round only asks.
		rec = p.Record
	} else {
		rctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
		rec, err = c.Hello(rctx)
		cancel()
		if err == nil && rec.Node == own.Node {
			return // a seed that is this node itself
		}
		if err == nil {
			if sameURL(rec.Address, s.url) {
				err = d.reg.Verified(rec) // the hello at its URL was the challenge
			} else {
				err = d.reg.Add(rec, peers.AddressBlock(s.url))
			}
		}
	}
	if err == nil {
		asked.Store(rec.Node, true)
		err = d.ask(ctx, c, rec.Node, peers.AddressBlock(s.url), own)
		if known == rec.Node {
			d.reg.Contact(rec.Node, err == nil)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case err != nil:
		if !s.failed && ctx.Err() == nil {
			d.log.WarnContext(ctx, "discovery: seed unreachable; retrying", "seed", s.url, "err", err)
		}
		s.failed = true
		s.client, s.node = nil, shard.PublicKey{} // its node may be another one next time
	default:
		if s.failed || !s.reached {
			d.log.InfoContext(ctx, "discovery: seed reached", "seed", s.url, "node", rec.Node.String())
		}
		s.failed, s.reached, s.node = false, true, rec.Node
	}
}

// ask takes up to pagesPerAsk pages of records from the peer behind c,
// counted against source, and sends it this node's record if it changed
// since last sent.
func (d *Discovery) ask(ctx context.Context, c *Client, id shard.PublicKey, source string, own shard.NodeRecord) error {
	rctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	defer cancel()
	d.mu.Lock()
	cursor, sent := d.cursors[id], d.announced[id]
	d.mu.Unlock()
	for range pagesPerAsk {
		recs, next, more, err := c.Peers(rctx, cursor)
		if err != nil {
			return err
		}
		d.reg.AddAll(recs, source)
		cursor = next
		if !more {
			break
		}
	}
	d.mu.Lock()
	d.cursors[id] = cursor
	d.mu.Unlock()
	if sent == own.Seq {
		return nil
	}
	if _, _, err := c.Announce(rctx, own); err != nil {
		return err
	}
	d.mu.Lock()
	d.announced[id] = own.Seq
	d.mu.Unlock()
	return nil
}

// challenge asks the node of rec to prove, at rec's address, that it
// holds rec's key.
func (d *Discovery) challenge(ctx context.Context, rec shard.NodeRecord) {
	rctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	defer cancel()
	got, err := d.client(rec).Hello(rctx)
	if err == nil && !sameURL(got.Address, rec.Address) {
		// It moved: heard of at its new address, to be challenged there.
		err = d.reg.Add(got, peers.AddressBlock(rec.Address))
		d.reg.Contact(rec.Node, true)
		return
	}
	if err == nil {
		err = d.reg.Verified(got)
	}
	if err != nil {
		if ctx.Err() == nil {
			d.log.DebugContext(ctx, "discovery: challenge failed", "node", rec.Node.String(), "address", rec.Address, "err", err)
		}
		d.reg.Contact(rec.Node, false)
	}
}

// client returns a client of the node of rec at its address, pinned to its
// key.
func (d *Discovery) client(rec shard.NodeRecord) *Client {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.clients[rec.Node]
	if c == nil || c.BaseURL() != strings.TrimRight(rec.Address, "/") {
		if len(d.clients) >= maxClients {
			clear(d.clients) // a bounded cache: clients are cheap to make
		}
		c = NewClient(rec.Address, d.cfg.Key, d.cfg.HTTPClient, WithPeerID(rec.Node))
		d.clients[rec.Node] = c
	}
	if len(d.cursors) > 4*maxClients {
		clear(d.cursors) // at worst, records are asked for again
		clear(d.announced)
	}
	return c
}

// logProgress logs the number of verified peers when it changed.
func (d *Discovery) logProgress(ctx context.Context) {
	st := d.reg.Stats()
	d.mu.Lock()
	changed := st.Tried != d.reached
	d.reached = st.Tried
	d.mu.Unlock()
	if changed {
		d.log.InfoContext(ctx, "discovery: peers", "verified", st.Tried, "heard_of", st.New, "placeable", st.Placeable)
	}
}

// sameURL reports whether two base URLs name the same place.
func sameURL(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}
