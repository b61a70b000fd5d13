package shard

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Limits on the variable-length fields of signed messages. Verify rejects
// larger values (ErrMalformed); decoders of untrusted JSON should also
// bound the whole body.
const (
	MaxAddressLen = 256
	MaxVersionLen = 64
	MaxPointerLen = 64 << 10
)

// Domain tags: the first bytes of each canonical encoding, so a signature
// over one kind of message never verifies as another.
const (
	tagNodeRecord = "ishtar/node-record/v2\x00"
	tagOwnerLink  = "ishtar/owner-link/v1\x00"
	tagGrant      = "ishtar/grant/v1\x00"
	tagReceipt    = "ishtar/receipt/v1\x00"
	tagRootRecord = "ishtar/root-record/v1\x00"
	tagRenewBatch = "ishtar/renew-batch/v1\x00"
)

// canon builds a canonical encoding: fixed-width big-endian integers,
// 32-byte keys and IDs as is, strings and bytes prefixed with their length
// as uint32.
type canon []byte

func (c canon) u8(v uint8) canon     { return append(c, v) }
func (c canon) u64(v uint64) canon   { return binary.BigEndian.AppendUint64(c, v) }
func (c canon) i64(v int64) canon    { return c.u64(uint64(v)) }
func (c canon) key(k [32]byte) canon { return append(c, k[:]...) }
func (c canon) str(s string) canon {
	return append(binary.BigEndian.AppendUint32(c, uint32(len(s))), s...)
}
func (c canon) bytes(b []byte) canon {
	return append(binary.BigEndian.AppendUint32(c, uint32(len(b))), b...)
}
func newCanon(tag string, n int) canon { return append(make(canon, 0, len(tag)+n), tag...) }

func malformed(what string, format string, args ...any) error {
	return fmt.Errorf("shard: %s: %s: %w", what, fmt.Sprintf(format, args...), ErrMalformed)
}

func checkSig(what string, signer PublicKey, msg, sig []byte) error {
	if !signer.Verify(msg, sig) {
		return fmt.Errorf("shard: %s signed by %s: %w", what, signer, ErrBadSignature)
	}
	return nil
}

func checkText(what, field, s string, max int) error {
	if len(s) > max || !utf8.ValidString(s) {
		return malformed(what, "%s of %d bytes (max %d) or not UTF-8", field, len(s), max)
	}
	return nil
}

// SignOwnerLink returns the owner's signature linking node to the owner:
// the proof, carried in the node's records, that owner stands behind the
// node (one owner may run several nodes).
func SignOwnerLink(owner PrivateKey, node PublicKey) []byte {
	return owner.Sign(ownerLinkBytes(owner.Public(), node))
}

// VerifyOwnerLink checks owner's link signature over node
// (ErrBadSignature).
func VerifyOwnerLink(owner, node PublicKey, sig []byte) error {
	return checkSig("owner link", owner, ownerLinkBytes(owner, node), sig)
}

func ownerLinkBytes(owner, node PublicKey) []byte {
	return newCanon(tagOwnerLink, 64).key(owner).key(node)
}

// NodeRecord is a node's signed description of itself, exchanged between
// peers; the highest Seq of a node wins. Owner is the owner standing
// behind the node, proved by OwnerSig (SignOwnerLink): the ledgers of
// fair exchange are kept per owner. A record without a valid link does
// not verify.
type NodeRecord struct {
	Node     PublicKey `json:"id"`
	Owner    PublicKey `json:"owner"`
	OwnerSig []byte    `json:"owner_sig"`
	Address  string    `json:"address"` // base URL, at most MaxAddressLen bytes
	Capacity int64     `json:"capacity"`
	Free     int64     `json:"free"`
	Version  string    `json:"version"` // at most MaxVersionLen bytes
	Seq      uint64    `json:"seq"`
	Time     int64     `json:"time"` // unix seconds
	Sig      []byte    `json:"sig"`
}

func (r *NodeRecord) signedBytes() []byte {
	return newCanon(tagNodeRecord, 180+len(r.Address)+len(r.Version)).
		key(r.Node).key(r.Owner).bytes(r.OwnerSig).str(r.Address).i64(r.Capacity).i64(r.Free).str(r.Version).u64(r.Seq).i64(r.Time)
}

// Validate checks the fields (not the signatures): node and owner keys, a
// link signature, bounded UTF-8 strings, no negative
// sizes. Errors wrap ErrMalformed.
func (r *NodeRecord) Validate() error {
	const what = "node record"
	if r.Node.IsZero() {
		return malformed(what, "no node key")
	}
	if r.Owner.IsZero() || len(r.OwnerSig) == 0 {
		return malformed(what, "no owner link")
	}
	if err := checkText(what, "address", r.Address, MaxAddressLen); err != nil {
		return err
	}
	if err := checkText(what, "version", r.Version, MaxVersionLen); err != nil {
		return err
	}
	if r.Capacity < 0 || r.Free < 0 {
		return malformed(what, "negative capacity %d or free %d", r.Capacity, r.Free)
	}
	return nil
}

// Sign sets Node to k's public key and Sig to k's signature. A record
// without an owner link gets k's own: the node is its own owner.
func (r *NodeRecord) Sign(k PrivateKey) {
	r.Node = k.Public()
	if r.Owner.IsZero() {
		r.Owner, r.OwnerSig = r.Node, SignOwnerLink(k, r.Node)
	}
	r.Sig = k.Sign(r.signedBytes())
}

// Verify checks the fields (ErrMalformed), the owner link and Node's
// signature (ErrBadSignature).
func (r NodeRecord) Verify() error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := VerifyOwnerLink(r.Owner, r.Node, r.OwnerSig); err != nil {
		return err
	}
	return checkSig("node record", r.Node, r.signedBytes(), r.Sig)
}

// GrantOp is the operation an owner grants.
type GrantOp uint8

const (
	OpStore GrantOp = iota + 1
	OpRenew
	OpDelete
)

// String returns "store", "renew" or "delete".
func (op GrantOp) String() string {
	switch op {
	case OpStore:
		return "store"
	case OpRenew:
		return "renew"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("GrantOp(%d)", uint8(op))
}

// Grant is the owner's permission to store, renew or delete a shard.
type Grant struct {
	Op          GrantOp   `json:"op"`
	Shard       ID        `json:"shard"`
	Size        int64     `json:"size"`
	Owner       PublicKey `json:"owner"`
	LeaseExpiry int64     `json:"lease_expiry"` // unix seconds
	Time        int64     `json:"time"`         // unix nanoseconds
	Sig         []byte    `json:"sig"`
}

func (g *Grant) signedBytes() []byte {
	return newCanon(tagGrant, 97).
		u8(uint8(g.Op)).key(g.Shard).i64(g.Size).key(g.Owner).i64(g.LeaseExpiry).i64(g.Time)
}

// Validate checks the fields (not the signature): a known Op, an owner
// key, a shard ID and no negative size. Errors wrap ErrMalformed.
func (g *Grant) Validate() error {
	const what = "grant"
	switch {
	case g.Op < OpStore || g.Op > OpDelete:
		return malformed(what, "unknown op %d", uint8(g.Op))
	case g.Owner.IsZero():
		return malformed(what, "no owner key")
	case g.Shard.IsZero():
		return malformed(what, "no shard id")
	case g.Size < 0:
		return malformed(what, "negative size %d", g.Size)
	}
	return nil
}

// Sign sets Owner to k's public key and Sig to k's signature.
func (g *Grant) Sign(k PrivateKey) {
	g.Owner = k.Public()
	g.Sig = k.Sign(g.signedBytes())
}

// Verify checks the fields (ErrMalformed) and Owner's signature
// (ErrBadSignature).
func (g Grant) Verify() error {
	if err := g.Validate(); err != nil {
		return err
	}
	return checkSig("grant", g.Owner, g.signedBytes(), g.Sig)
}

// Receipt is a node's signed promise that it holds a shard for an owner,
// directly or through Holder when it delegated.
type Receipt struct {
	Shard       ID        `json:"shard"`
	Size        int64     `json:"size"`
	Owner       PublicKey `json:"owner"`
	Node        PublicKey `json:"node"`   // the signer, answerable for the shard
	Holder      PublicKey `json:"holder"` // next hop; zero or Node when held directly
	LeaseExpiry int64     `json:"lease_expiry"`
	Time        int64     `json:"time"`
	Sig         []byte    `json:"sig"`
}

// Delegated reports whether the node declared another holder.
func (r *Receipt) Delegated() bool { return !r.Holder.IsZero() && r.Holder != r.Node }

func (r *Receipt) signedBytes() []byte {
	return newCanon(tagReceipt, 160).
		key(r.Shard).i64(r.Size).key(r.Owner).key(r.Node).key(r.Holder).i64(r.LeaseExpiry).i64(r.Time)
}

// Validate checks the fields (not the signature): shard ID, owner and node
// keys, no negative size. Errors wrap ErrMalformed.
func (r *Receipt) Validate() error {
	const what = "receipt"
	switch {
	case r.Shard.IsZero():
		return malformed(what, "no shard id")
	case r.Owner.IsZero() || r.Node.IsZero():
		return malformed(what, "no owner or node key")
	case r.Size < 0:
		return malformed(what, "negative size %d", r.Size)
	}
	return nil
}

// Sign sets Node to k's public key and Sig to k's signature.
func (r *Receipt) Sign(k PrivateKey) {
	r.Node = k.Public()
	r.Sig = k.Sign(r.signedBytes())
}

// Verify checks the fields (ErrMalformed) and Node's signature
// (ErrBadSignature).
func (r Receipt) Verify() error {
	if err := r.Validate(); err != nil {
		return err
	}
	return checkSig("receipt", r.Node, r.signedBytes(), r.Sig)
}

// RootRecord points at the owner's latest encrypted catalog backup. Pointer
// is opaque (sealed with the catalog key); peers only keep the highest Seq.
type RootRecord struct {
	Owner   PublicKey `json:"owner"`
	Seq     uint64    `json:"seq"`
	Pointer []byte    `json:"pointer"` // at most MaxPointerLen bytes
	Time    int64     `json:"time"`
	Sig     []byte    `json:"sig"`
}

func (r *RootRecord) signedBytes() []byte {
	return newCanon(tagRootRecord, 56+len(r.Pointer)).
		key(r.Owner).u64(r.Seq).bytes(r.Pointer).i64(r.Time)
}

// Validate checks the fields (not the signature): an owner key and a
// bounded Pointer. Errors wrap ErrMalformed.
func (r *RootRecord) Validate() error {
	const what = "root record"
	if r.Owner.IsZero() {
		return malformed(what, "no owner key")
	}
	if len(r.Pointer) > MaxPointerLen {
		return malformed(what, "pointer of %d bytes (max %d)", len(r.Pointer), MaxPointerLen)
	}
	return nil
}

// Sign sets Owner to k's public key and Sig to k's signature.
func (r *RootRecord) Sign(k PrivateKey) {
	r.Owner = k.Public()
	r.Sig = k.Sign(r.signedBytes())
}

// Verify checks the fields (ErrMalformed) and Owner's signature
// (ErrBadSignature).
func (r RootRecord) Verify() error {
	if err := r.Validate(); err != nil {
		return err
	}
	return checkSig("root record", r.Owner, r.signedBytes(), r.Sig)
}

// MaxRenewBatch bounds the shard IDs of one RenewBatch: its JSON form
// (about 67 bytes an ID) stays well under a node's 1 MiB body limit.
const MaxRenewBatch = 4096

// RenewBatch is the owner's permission to extend, on one node, the leases
// of many shards at once to LeaseExpiry. Node binds it to the node it is
// for, so that it cannot be replayed to another; Shards are sorted and
// unique, so that a batch has one encoding.
type RenewBatch struct {
	Owner       PublicKey `json:"owner"`
	Node        PublicKey `json:"node"`
	LeaseExpiry int64     `json:"lease_expiry"` // unix seconds
	Time        int64     `json:"time"`         // unix nanoseconds
	Shards      []ID      `json:"shards"`       // sorted, unique, 1..MaxRenewBatch
	Sig         []byte    `json:"sig"`
}

func (r *RenewBatch) signedBytes() []byte {
	c := newCanon(tagRenewBatch, 84+32*len(r.Shards)).
		key(r.Owner).key(r.Node).i64(r.LeaseExpiry).i64(r.Time)
	c = binary.BigEndian.AppendUint32(c, uint32(len(r.Shards)))
	for _, id := range r.Shards {
		c = c.key(id)
	}
	return c
}

// Validate checks the fields (not the signature): owner and node keys,
// 1 to MaxRenewBatch shard IDs, none zero, in strictly ascending order.
// Errors wrap ErrMalformed.
func (r *RenewBatch) Validate() error {
	const what = "renew batch"
	switch {
	case r.Owner.IsZero() || r.Node.IsZero():
		return malformed(what, "no owner or node key")
	case len(r.Shards) == 0 || len(r.Shards) > MaxRenewBatch:
		return malformed(what, "%d shard IDs (1 to %d)", len(r.Shards), MaxRenewBatch)
	case r.Shards[0].IsZero():
		return malformed(what, "zero shard id")
	}
	for i := 1; i < len(r.Shards); i++ {
		if string(r.Shards[i-1][:]) >= string(r.Shards[i][:]) {
			return malformed(what, "shard IDs not sorted and unique at %d", i)
		}
	}
	return nil
}

// Sign sets Owner to k's public key and Sig to k's signature.
func (r *RenewBatch) Sign(k PrivateKey) {
	r.Owner = k.Public()
	r.Sig = k.Sign(r.signedBytes())
}

// Verify checks the fields (ErrMalformed) and Owner's signature
// (ErrBadSignature).
func (r RenewBatch) Verify() error {
	if err := r.Validate(); err != nil {
		return err
	}
	return checkSig("renew batch", r.Owner, r.signedBytes(), r.Sig)
}
