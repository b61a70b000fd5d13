package segstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ishtar/shard"
)

// Release sends an owner-signed delete of shard id (size bytes) to the
// peer node of peers (from PeerIndex), unless that peer is in back-off
// or busy. done: the shard is gone (or was never there), or the node
// holds nothing for the owner (err says so): nothing more to do.
// Otherwise wait > 0 means the peer itself is away for that long (its
// back-off or busy time), not the release's failure; else err is the
// failure, for the caller to retry with back-off.
func (s *Store) Release(ctx context.Context, peers map[shard.PublicKey]PeerInfo, id shard.ID, node shard.PublicKey, size int64) (done bool, wait time.Duration, err error) {
	p, ok := peers[node]
	var down, busy time.Duration // left of the peer's back-off, busy time
	if ok {
		down, busy = s.health.downLeft(p), s.health.busyLeft(p.ID)
	}
	switch {
	case !ok:
		err = errors.New("peer not in the directory")
	case down > 0:
		err = errors.New("peer in back-off")
	case busy > 0:
		err = fmt.Errorf("segstore: delete: %w", ErrPeerBusy)
	default:
		grant := shard.Grant{Op: shard.OpDelete, Shard: id, Size: size, Time: s.cfg.Now().UnixNano()}
		grant.Sign(s.cfg.Owner.Signing)
		rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		err = p.Peer.DeleteShard(rctx, id, grant)
		cancel()
		s.observe(ctx, p, 0, err)
		if err == nil || isShardNotFound(err) {
			s.st.released.Add(1)
			return true, 0, nil
		}
		if isNotHeldForOwner(err) {
			return true, 0, err
		}
	}
	if down > 0 || isBusy(err) {
		return false, max(down, s.health.busyLeft(p.ID), 10*time.Millisecond), err
	}
	return false, 0, err
}
