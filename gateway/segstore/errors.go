package segstore

import (
	"errors"

	"ishtar/node"
)

// Errors a Peer reports so the store can tell outcomes apart. A Peer may
// return them or wrap them; node.Client's errors are recognised as well
// (see isShardNotFound and isPeerFull).
var (
	// ErrShardNotFound: the node does not hold the shard. A delete of a
	// shard not found counts as done.
	ErrShardNotFound = errors.New("segstore: shard not found on the peer")
	// ErrPeerFull: the node refused a shard for lack of space; the shard
	// goes to another peer, and shards that large go elsewhere a while
	// (see peerHealth).
	ErrPeerFull = errors.New("segstore: peer has no room for the shard")
)

// Outcomes of the store's own work, for the caller to tell apart.
var (
	// ErrUnavailable: fewer than K good shards of a segment could be read.
	ErrUnavailable = errors.New("segstore: too few shards available")
	// ErrTooFewPeers: fewer than MinAcks peers stored a segment's shards.
	ErrTooFewPeers = errors.New("segstore: too few peers stored the shards")
)

// errBadReceipt: a peer's receipt is not its signature over exactly what
// was granted (checkReceipt). The peer counts as lying.
var errBadReceipt = errors.New("segstore: bad receipt")

// isShardNotFound reports whether a peer said it does not hold a shard.
func isShardNotFound(err error) bool {
	return errors.Is(err, ErrShardNotFound) || errors.Is(err, node.ErrNotFound)
}

// isNotHeldForOwner reports whether a node refused a delete because it
// holds nothing for this owner under that grant: retrying cannot help.
func isNotHeldForOwner(err error) bool { return errors.Is(err, node.ErrForbidden) }

// isPeerFull reports whether a peer refused a shard for lack of space,
// or of the owner's credit there (which is the owner's room on the peer).
func isPeerFull(err error) bool {
	return errors.Is(err, ErrPeerFull) || errors.Is(err, node.ErrInsufficientStorage) || NoCredit(err)
}

// NoCredit reports whether err is, or joins, a peer's refusal for lack of
// the owner's credit (node.ErrNoCredit): the owner must provide more
// storage to store more there.
func NoCredit(err error) bool { return errors.Is(err, node.ErrNoCredit) }

// isBusy reports whether a peer refused a request for now (see classify).
func isBusy(err error) bool {
	v, _ := classify(err)
	return v == verdictBusy
}
