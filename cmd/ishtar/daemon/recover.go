package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ishtar/gateway/backup"
	"ishtar/shard"
)

// Recovered is what Recover brought back.
type Recovered struct {
	Peers    int              // verified peers found
	Root     shard.RootRecord // the root restored
	Asked    int              // root holders asked
	Valid    int              // of them, those with a valid root
	Buckets  int
	Objects  int64
	Restored backup.Restored
}

// recoverRounds bounds the discovery rounds Recover runs before asking
// for roots: it stops earlier once a round finds no new verified peer.
const recoverRounds = 6

// Recover rebuilds the owner's catalog in cfg.Data, which must hold none,
// from its backup on the network: it learns the network from
// cfg.Network's bootstrap peers and trackers (a few discovery rounds),
// finds the owner's newest valid root record among the root holders it
// can compute (backup.FindRoot), reads the backup and restores it
// (backup.Restore). The daemon run afterwards on cfg.Data carries on: its
// first backup step is a snapshot, upkeep renews the leases.
func Recover(ctx context.Context, cfg Config, id Identity, opts Options) (_ Recovered, err error) {
	var r Recovered
	if cfg.StorageOnly || cfg.Network.Tracker {
		return r, errors.New("recover: a storage-only node or tracker has no catalog to recover")
	}
	if len(cfg.Network.Bootstrap) == 0 && len(cfg.Network.Trackers) == 0 {
		return r, errors.New("recover: no peer to learn the network from (give --bootstrap URL)")
	}
	cfg.Upkeep.Backup = false // nothing is backed up before the restore
	// The S3 endpoint is not served, and the node listens only while
	// discovery runs: both on free loopback ports, so that recover runs
	// beside a daemon (or a devnet) holding the configured ones; no admin
	// listener.
	cfg.Listen, cfg.S3Listen, cfg.Advertise, cfg.Admin = "127.0.0.1:0", "127.0.0.1:0", "", ""
	d, err := Open(cfg, id, opts)
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, d.Close()) }()
	if bks, err := d.db.Buckets(); err != nil {
		return r, err
	} else if len(bks) > 0 {
		return r, fmt.Errorf("recover: %s already has a catalog (%d buckets); recover into a fresh data directory", cfg.Data, len(bks))
	}
	// The node listens (its peers may challenge it) while discovery runs.
	go func() { _ = d.nodeHTTP.Serve(d.nodeLn) }()
	defer func() {
		_ = d.nodeHTTP.Close()
		d.handlers.Wait() // before the catalog closes
	}()
	// A round verifies the records the previous one heard of: stop once
	// a round learns and verifies nothing new.
	for range recoverRounds {
		before := d.reg.Stats()
		rctx, cancel := context.WithTimeout(ctx, firstRoundTimeout)
		d.disc.Round(rctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return r, err
		}
		if after := d.reg.Stats(); after.Tried > 0 && after.Tried == before.Tried && after.New == before.New {
			break
		}
	}
	r.Peers = d.reg.Stats().Tried
	if r.Peers == 0 {
		return r, fmt.Errorf("recover: no peer answered at %v %v", cfg.Network.Bootstrap, cfg.Network.Trackers)
	}
	d.dir.refresh()
	timeout := d.cfg.GatewayConfig(shard.PublicKey{}).RequestTimeout
	found, err := backup.FindRoot(ctx, id.Owner, d.bkp, d.cfg.BackupConfig().Holders, func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, timeout)
	})
	r.Asked, r.Valid = found.Asked, found.Valid
	if err != nil {
		return r, fmt.Errorf("recover: %w (of %d verified peers)", err, r.Peers)
	}
	r.Root = found.Record
	idx := d.gw.Segments().PeerIndex()
	reachable := func(id shard.PublicKey) bool { _, ok := idx[id]; return ok }
	if r.Restored, err = backup.Restore(ctx, d.db, d.gw, found, reachable); err != nil {
		return r, fmt.Errorf("recover: %w", err)
	}
	bks, err := d.db.Buckets()
	if err != nil {
		return r, err
	}
	r.Buckets = len(bks)
	for _, b := range bks {
		it, err := d.db.Objects(b.Name)
		if err != nil {
			return r, err
		}
		for ok := it.SeekGE(""); ok; ok = it.Next() {
			r.Objects++
		}
		if err := it.Close(); err != nil {
			return r, err
		}
	}
	return r, nil
}

// RootTime is when the root restored was made.
func (r Recovered) RootTime() time.Time { return time.Unix(r.Root.Time, 0) }
