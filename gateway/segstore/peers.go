package segstore

import (
	"context"
	"io"
	"time"

	"ishtar/node"
	"ishtar/shard"
)

var _ Peer = (*node.Client)(nil)

// Peer is what the store needs of one storage node; *node.Client
// satisfies it. Implementations must honour ctx, and report a shard the
// node does not hold with an error matching ErrShardNotFound (or
// node.ErrNotFound), a refusal for lack of space with one matching
// ErrPeerFull (or node.ErrInsufficientStorage), and a refusal because it
// is busy now with one matching ErrPeerBusy (or node.ErrBusy).
type Peer interface {
	// PutShard stores size bytes of body as shard id under the owner's
	// store grant and returns the node's signed receipt.
	PutShard(ctx context.Context, id shard.ID, body io.Reader, size int64, g shard.Grant) (shard.Receipt, error)
	// GetShard returns n bytes of shard id from offset off (n < 0: to the
	// end). Nothing it returns is trusted.
	GetShard(ctx context.Context, id shard.ID, off, n int64) (io.ReadCloser, error)
	// DeleteShard releases the owner's hold on shard id under a delete
	// grant.
	DeleteShard(ctx context.Context, id shard.ID, g shard.Grant) error
}

// receiptVerifier is implemented by peers whose PutShard returns only
// receipts whose signature it has verified against the node's pinned ID
// (*node.Client does); the store then skips verifying the signature a
// second time, and still checks what the receipt says.
type receiptVerifier interface {
	VerifiesReceipts() bool
}

var _ receiptVerifier = (*node.Client)(nil)

// PeerInfo is one storage node the store may use.
type PeerInfo struct {
	ID   shard.PublicKey
	Addr string // base URL, for logs and address diversity
	// Free is the bytes free the peer last advertised: it weighs placement,
	// and a shard larger than it goes elsewhere while others can take it.
	// <= 0 is unknown, unless Seen is set.
	Free int64
	// Seen is when the directory last had a good answer from the peer (its
	// signed record, which gave Free), on the store's clock; zero if the
	// directory does not track it. A record seen after a peer failed ends
	// its back-off, and one seen after it refused a shard as full replaces
	// what the store inferred of its room.
	Seen time.Time
	// Uptime is the share of the peer's recent contacts that succeeded,
	// in (0, 1]; 0 is unknown. It weighs placement and orders reads.
	Uptime float64
	// Unplaceable keeps the peer out of placement (the directory's verdict:
	// unverified address, bad history, too many of its address block);
	// its shards are still read.
	Unplaceable bool
	// Creditor is set when the owner's own node holds more for the
	// peer's owner than that owner's nodes hold for this one: the peer
	// owes the owner space, so placement tries it before peers that would
	// store on grace (see node.Credit).
	Creditor bool
	Peer     Peer
}

// PeerObserver is implemented by a Directory that keeps peers' history
// (the peer registry): the store tells it what each answer said.
type PeerObserver interface {
	// Contact records an answer (ok) or a failure to answer.
	Contact(id shard.PublicKey, ok bool)
	// Lied records an answer that was not what was asked.
	Lied(id shard.PublicKey)
}

// Directory tells the store which storage peers exist. Discovery will
// come with the network; until then cmd builds a StaticDirectory.
type Directory interface {
	Peers() []PeerInfo // a snapshot; the store tracks health itself (see PeerInfo.Seen)
}

// StaticDirectory is a fixed list of peers.
type StaticDirectory []PeerInfo

// Peers returns the list.
func (d StaticDirectory) Peers() []PeerInfo { return d }

// PeerIndex maps node IDs to the directory's current peers.
func (s *Store) PeerIndex() map[shard.PublicKey]PeerInfo {
	ps := s.cfg.Directory.Peers()
	m := make(map[shard.PublicKey]PeerInfo, len(ps))
	for _, p := range ps {
		if p.Peer != nil && !p.ID.IsZero() {
			m[p.ID] = p
		}
	}
	return m
}

// observe records what one request to p made under ctx says about p (see
// peerHealth); stored is the size of the shard it was asked to store, 0
// for any other request. A cancellation by the store itself (ctx done:
// the answer was no longer needed) says nothing about the peer.
func (s *Store) observe(ctx context.Context, p PeerInfo, stored int64, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	s.health.record(p, stored, err)
	if obs, ok := s.cfg.Directory.(PeerObserver); ok {
		// Full and busy answers tell the history nothing: the peer
		// answered, but a new contact would end what the store
		// inferred of its room (PeerInfo.Seen).
		switch v, _ := classify(err); v {
		case verdictLying:
			obs.Lied(p.ID)
		case verdictUnreachable:
			obs.Contact(p.ID, false)
		case verdictOK:
			obs.Contact(p.ID, true)
		}
	}
}
