package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"ishtar/gateway"
	"ishtar/gateway/backup"
	"ishtar/gateway/segstore"
	"ishtar/gateway/upkeep"
	"ishtar/meta"
	"ishtar/node"
	"ishtar/node/peers"
	"ishtar/s3api"
	"ishtar/shard"
)

// Files and directories of a daemon's data directory.
const (
	CatalogDir = "catalog"
	ShardsDir  = "shards"
	// NodeURLFile holds, while the daemon runs, the URL its node answers
	// at on this machine (`ishtar peers` asks it).
	NodeURLFile = "node.url"
)

// catalogSyncPacing is the longest a catalog's WAL waits after an fsync
// while commits of concurrent writers overlap, so that they share the next
// one (meta.WithSyncPacing). 4 KiB PUTs from 16 clients on a 2-core
// devnet: 255 -> 350 objects/s, fsyncs per object 4.5 -> 2.
const catalogSyncPacing = 4 * time.Millisecond

// DefaultShutdownGrace bounds how long in-flight requests may take to
// finish once a shutdown begins.
const DefaultShutdownGrace = 10 * time.Second

// firstRoundTimeout bounds discovery's first round, before Run calls
// ready.
const firstRoundTimeout = 15 * time.Second

// Identity is what a daemon acts as: its node key and, unless it is
// storage-only, the owner's keys and the local S3 credentials.
type Identity struct {
	Node  shard.PrivateKey
	Owner shard.OwnerKeys
	S3    s3api.StaticCredentials
}

// Options are how a daemon is built rather than configured: they let
// tests run the real wiring with their own store and fault decorators.
type Options struct {
	Log *slog.Logger // nil: discard
	// Store, if set, holds shard bytes instead of a DiskStore in
	// DATA/shards (tests: a node.MemStore kept across restarts).
	Store node.Store
	// WrapStore, if set, decorates the node's store (small shards kept
	// in the catalog included: see node.InlineStore and Unwrap).
	WrapStore func(node.Store) node.Store
	// WrapPeer, if set, decorates the gateway's client of each peer.
	WrapPeer func(id shard.PublicKey, p segstore.Peer) segstore.Peer
	// ShutdownGrace bounds the graceful end of requests in flight when
	// Run's context ends; default DefaultShutdownGrace, negative for an
	// abrupt stop (every connection closed at once, as in a crash).
	ShutdownGrace time.Duration
	// HTTPClient, if set, is the client of the peers (its transport
	// should set ExpectContinueTimeout, see node.NewClient).
	HTTPClient *http.Client
}

// Daemon is one node and, unless storage-only, its gateway and S3
// endpoint, with their background loops.
type Daemon struct {
	cfg  Config
	id   Identity
	opts Options
	log  *slog.Logger

	db       *meta.DB
	node     *node.Server
	nodeLn   net.Listener
	nodeURL  string
	nodeHTTP *http.Server
	handlers sync.WaitGroup // node requests being served

	reg   *peers.Registry
	held  heldBy // what other owners hold for this one
	disc  *node.Discovery
	dir   *directory
	gw    *gateway.Gateway
	up    *upkeep.Upkeep
	bk    *backup.Backup
	bkp   backupPeers
	s3h   http.Handler
	s3ln  net.Listener
	s3url string
	s3srv *http.Server

	recent     *recentLog // the last warnings and errors logged
	metrics    *metrics   // nil without an admin listener
	adminLn    net.Listener
	adminURL   string
	adminToken string // when bound off loopback
	adminSrv   *http.Server
}

// Open opens the catalog and store of cfg.Data, binds the listeners and
// opens the gateway; nothing is served before Run. cfg is validated.
func Open(cfg Config, id Identity, opts Options) (_ *Daemon, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Network.Tracker {
		cfg.StorageOnly = true // a tracker stores nothing and runs no gateway
	}
	if id.Node.IsZero() || (!cfg.StorageOnly && id.Owner.Signing.IsZero()) {
		return nil, errors.New("daemon: an identity needs a node key, and an owner unless storage-only")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	d := &Daemon{cfg: cfg, id: id, opts: opts, recent: &recentLog{}}
	d.log = slog.New(&recentHandler{next: opts.Log.Handler(), ring: d.recent})
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()
	if err := d.openNode(); err != nil {
		return nil, err
	}
	if !cfg.StorageOnly {
		if err := d.openGateway(); err != nil {
			return nil, err
		}
	}
	if cfg.Admin != "" {
		d.metrics = newMetrics(d)
		d.nodeHTTP.Handler = d.metrics.node(d.nodeHTTP.Handler)
		if d.s3srv != nil {
			d.s3srv.Handler = d.metrics.s3(d.s3srv.Handler, cfg.S3.BaseDomain)
		}
		if err := d.openAdmin(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// openNode opens the catalog (DATA/catalog) and store (DATA/shards) and
// binds the peer protocol listener.
func (d *Daemon) openNode() error {
	log := d.log.With("component", "node")
	db, err := meta.Open(filepath.Join(d.cfg.Data, CatalogDir), meta.WithLogger(log.With("component", "pebble")),
		meta.WithSyncPacing(catalogSyncPacing))
	if err != nil {
		return err
	}
	d.db = db
	nc := d.cfg.NodeConfig(d.id.Node, "x") // the address is known once bound
	nc.Defaults()
	if d.cfg.Network.Tracker {
		nc.Capacity = 0
	}
	pc := peers.Config{Self: d.id.Node.Public(), Now: nc.Now}
	if !d.cfg.Gateway.AddressDiversity {
		pc.PlaceablePerBlock = -1 // every peer of a loopback or LAN network is in one block
	}
	if d.reg, err = peers.Open(pc, db, log.With("component", "peers")); err != nil {
		return err
	}
	nc.Registry = d.reg
	nc.Operator = d.operate
	if !d.id.Owner.Signing.IsZero() {
		nc.Owner, nc.OwnerSig = d.id.Owner.Signing.Public(), shard.SignOwnerLink(d.id.Owner.Signing, d.id.Node.Public())
	}
	nc.Credit.HeldBy = d.held.get
	if d.cfg.Delegation && !d.cfg.Network.Tracker {
		nc.Delegate.Peers, nc.Delegate.HTTPClient = d.delegatePeers, d.opts.HTTPClient
		if !d.id.Owner.Signing.IsZero() {
			nc.Delegate.OwnerKey = d.id.Owner.Signing
		}
	}
	if err := d.refreshLedger(); err != nil { // d.node is nil: the node settles it as it opens
		return err
	}
	st := d.opts.Store
	if st == nil {
		if st, err = node.NewDiskStore(filepath.Join(d.cfg.Data, ShardsDir), nc.LeafSize); err != nil {
			return err
		}
	}
	if d.opts.WrapStore != nil {
		// Decorators see small shards too: they wrap the InlineStore
		// NewServer would otherwise put around st.
		st = d.opts.WrapStore(node.NewInlineStore(db, st, max(nc.InlineMax, 0), nc.LeafSize))
	}
	if d.nodeLn, err = Listen(d.cfg.Listen, "node"); err != nil {
		return err
	}
	d.nodeURL = d.cfg.advertise(d.nodeLn.Addr().String())
	if d.cfg.Advertise == "" && isUnspecified(d.nodeLn.Addr()) {
		log.Warn("the node listens on all interfaces but advertises an unspecified address; set --advertise to the URL peers reach it at", "listen", d.nodeLn.Addr().String())
	}
	nc.Address = d.nodeURL
	if err := nc.Validate(); err != nil {
		return err
	}
	d.node = node.NewServer(nc, st, db, log)
	d.nodeLn = d.node.LimitListener(d.nodeLn)
	net := d.cfg.Network
	d.disc = node.NewDiscovery(node.DiscoveryConfig{Key: d.id.Node, Record: d.node.Record,
		Bootstrap: net.Bootstrap, Trackers: net.Trackers, Interval: net.ExchangeInterval,
		HTTPClient: d.opts.HTTPClient, Log: d.log.With("component", "discovery")}, d.reg)
	d.nodeHTTP = d.node.HTTPServer()
	inner := d.nodeHTTP.Handler
	d.nodeHTTP.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.handlers.Add(1)
		defer d.handlers.Done()
		inner.ServeHTTP(w, r)
	})
	return nil
}

// openGateway opens the gateway over the node's catalog with a directory
// of peers, and binds the S3 listener.
func (d *Daemon) openGateway() error {
	d.dir = newDirectory(d.reg, d.id.Node, d.opts.HTTPClient, d.opts.WrapPeer, d.held.creditor)
	gw, err := gateway.New(d.cfg.GatewayConfig(d.id.Node.Public()), d.db, d.id.Owner, d.dir, d.log.With("component", "gateway"))
	if err != nil {
		return err
	}
	d.gw = gw
	gc := d.cfg.GatewayConfig(d.id.Node.Public())
	up := newUpkeepPeers(d.reg, d.id.Node, "http://"+dialable(d.nodeLn.Addr()), d.cfg.PolicyConfig().OfflineGrace, d.opts.HTTPClient)
	d.up, err = upkeep.New(upkeep.Config{Policy: d.cfg.PolicyConfig(), Interval: d.cfg.upkeepInterval(), RequestTimeout: gc.RequestTimeout,
		Shards: gw.Segments(), Self: d.id.Node.Public(), AllowSelf: gc.AllowSelf, DistinctBlocks: gc.AddressDiversity,
		Released: gw.WakeReleases},
		d.db, d.id.Owner.Signing, up, d.log.With("component", "upkeep"))
	if err != nil {
		return err
	}
	d.bkp = backupPeers{up}
	if d.cfg.Upkeep.Backup {
		if d.bk, err = backup.New(d.cfg.BackupConfig(), d.db, d.id.Owner, gw, d.bkp, d.log.With("component", "backup")); err != nil {
			return err
		}
	}
	d.s3h = s3api.NewHandler(gw, d.id.S3, d.cfg.S3, d.log.With("component", "s3"))
	if d.s3ln, err = Listen(d.cfg.S3Listen, "s3"); err != nil {
		return err
	}
	d.s3url = "http://" + dialable(d.s3ln.Addr())
	d.s3srv = &http.Server{
		Handler:           d.s3h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// Run serves until ctx ends, then shuts down: the S3 endpoint and the
// node drain (within Options.ShutdownGrace), the background loops stop,
// the catalog closes. Once every server is started, Run refreshes the
// peer directory once (so that a first upload finds the peers) and calls
// ready, if not nil.
func (d *Daemon) Run(ctx context.Context, ready func()) error {
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	var gwErr error
	if d.gw != nil {
		wg.Go(func() { gwErr = d.gw.Run(bg) })
	}
	// Discovery's first round runs before ready (so that a first upload
	// finds the peers); its later rounds, upkeep (the holders are known
	// then) and the backup (the root holders too) start after it.
	ready0 := make(chan struct{})
	afterReady := func(run func(context.Context)) {
		wg.Go(func() {
			select {
			case <-ready0:
				run(bg)
			case <-bg.Done():
			}
		})
	}
	afterReady(d.disc.Run)
	wg.Go(func() { d.node.Maintain(bg) })
	afterReady(func(ctx context.Context) { d.keepLedger(ctx, d.cfg.upkeepInterval()) })
	if d.up != nil {
		afterReady(d.up.Run)
	}
	if d.bk != nil {
		afterReady(d.bk.Run)
	}
	// A crash between writing a shard and indexing it (or the other way
	// round on delete) leaves bytes no one holds.
	wg.Go(func() {
		removed, err := d.node.Sweep(bg)
		switch {
		case err != nil && bg.Err() == nil:
			d.log.Warn("sweeping unheld shards", "err", err)
		case removed > 0:
			d.log.Info("removed shards the catalog does not hold", "shards", removed)
		}
	})
	var list servers
	if d.s3srv != nil {
		list.add("s3", d.s3srv, d.s3ln) // drains first: its requests may need the node
	}
	list.add("node", d.nodeHTTP, d.nodeLn)
	if d.adminSrv != nil {
		list.add("admin", d.adminSrv, d.adminLn)
	}
	err := list.run(ctx, d.log, d.opts.ShutdownGrace, func() {
		rctx, cancel := context.WithTimeout(ctx, firstRoundTimeout)
		d.disc.Round(rctx)
		cancel()
		if d.dir != nil {
			d.dir.refresh()
		}
		close(ready0)
		if err := os.WriteFile(filepath.Join(d.cfg.Data, NodeURLFile), []byte("http://"+dialable(d.nodeLn.Addr())+"\n"), 0o600); err != nil {
			d.log.Warn("cannot write the node's local URL", "err", err)
		}
		if d.adminURL != "" {
			if err := os.WriteFile(filepath.Join(d.cfg.Data, AdminURLFile), []byte(d.adminURL+"\n"), 0o600); err != nil {
				d.log.Warn("cannot write the admin listener's URL", "err", err)
			}
			if d.adminToken != "" {
				if err := os.WriteFile(filepath.Join(d.cfg.Data, AdminTokenFile), []byte(d.adminToken+"\n"), 0o600); err != nil {
					d.log.Warn("cannot write the admin listener's token", "err", err)
				}
			}
		}
		if ready != nil {
			ready()
		}
	})
	_ = os.Remove(filepath.Join(d.cfg.Data, NodeURLFile))
	if d.adminURL != "" {
		_ = os.Remove(filepath.Join(d.cfg.Data, AdminURLFile))
		_ = os.Remove(filepath.Join(d.cfg.Data, AdminTokenFile))
	}
	stop()
	wg.Wait()
	// Handlers of an abrupt stop notice their closed connections and
	// return; the catalog must not close under them.
	d.handlers.Wait()
	if gwErr != nil {
		err = errors.Join(err, fmt.Errorf("gateway: %w", gwErr))
	}
	return errors.Join(err, d.Close())
}

// Close closes the listeners and the catalog (Run does it as it ends).
func (d *Daemon) Close() error {
	for _, ln := range []net.Listener{d.s3ln, d.nodeLn, d.adminLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if d.db == nil {
		return nil
	}
	var err error
	if d.reg != nil {
		err = d.reg.Close()
	}
	db := d.db
	d.db = nil
	if cerr := db.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close catalog: %w", cerr))
	}
	return err
}

// AdminURL is the admin listener's URL ("" when off).
func (d *Daemon) AdminURL() string { return d.adminURL }

// AdminToken is the admin listener's bearer token, "" when it is off or
// bound to loopback (no login).
func (d *Daemon) AdminToken() string { return d.adminToken }

// AdminAddr is the address the admin listener listens on ("" when off).
func (d *Daemon) AdminAddr() string {
	if d.adminLn == nil {
		return ""
	}
	return d.adminLn.Addr().String()
}

// NodeID is the node's ID.
func (d *Daemon) NodeID() shard.PublicKey { return d.id.Node.Public() }

// NodeURL is the node's advertised base URL.
func (d *Daemon) NodeURL() string { return d.nodeURL }

// NodeAddr is the address the node listens on.
func (d *Daemon) NodeAddr() string { return d.nodeLn.Addr().String() }

// Node is the peer protocol server.
func (d *Daemon) Node() *node.Server { return d.node }

// Catalog is the daemon's catalog (the node's index and the gateway's).
func (d *Daemon) Catalog() *meta.DB { return d.db }

// Gateway is the gateway, nil when storage-only.
func (d *Daemon) Gateway() *gateway.Gateway { return d.gw }

// S3Handler is the S3 API over the gateway, nil when storage-only.
func (d *Daemon) S3Handler() http.Handler { return d.s3h }

// S3URL is the S3 endpoint's URL ("" when storage-only).
func (d *Daemon) S3URL() string { return d.s3url }

// S3Addr is the address the S3 endpoint listens on ("" when
// storage-only).
func (d *Daemon) S3Addr() string {
	if d.s3ln == nil {
		return ""
	}
	return d.s3ln.Addr().String()
}

// Peers returns the gateway's verified peers (none when storage-only).
func (d *Daemon) Peers() []segstore.PeerInfo {
	if d.dir == nil {
		return nil
	}
	return d.dir.Peers()
}

// Upkeep is what renews the owner's leases, nil when storage-only.
func (d *Daemon) Upkeep() *upkeep.Upkeep { return d.up }

// Backup is what backs the catalog up to the network, nil when
// storage-only.
func (d *Daemon) Backup() *backup.Backup { return d.bk }

// Registry is the peer registry.
func (d *Daemon) Registry() *peers.Registry { return d.reg }

// Discovery is the node's discovery (its rounds run in Run).
func (d *Daemon) Discovery() *node.Discovery { return d.disc }

// WarnPlacement logs why uploads are bound to fail with the peers known.
func (d *Daemon) WarnPlacement() {
	if d.dir != nil {
		warnPlacement(d.log, &d.cfg, d.dir.Peers())
	}
}
