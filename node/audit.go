package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"ishtar/shard"
)

// MaxAuditNonce bounds the nonce of an audit challenge, in bytes.
const MaxAuditNonce = 64

const auditTag = "ishtar/audit/v1\x00"

// Audit is a node's signed answer to an audit challenge: one leaf of a
// shard, its Merkle path to the shard ID, and the challenger's nonce, so the
// answer cannot have been prepared in advance or replayed.
type Audit struct {
	Shard    shard.ID        `json:"shard"`
	Size     int64           `json:"size"`      // the shard's size in bytes
	LeafSize int             `json:"leaf_size"` // Merkle leaf size
	Leaf     uint64          `json:"leaf"`
	Nonce    []byte          `json:"nonce"`
	Data     []byte          `json:"data"` // the leaf's bytes
	Proof    shard.Proof     `json:"proof"`
	Node     shard.PublicKey `json:"node"`
	Time     int64           `json:"time"` // unix nanoseconds
	Sig      []byte          `json:"sig"`
}

// signedBytes is the canonical encoding the signature covers (see doc.go).
func (a *Audit) signedBytes() ([]byte, error) {
	proof, err := a.Proof.MarshalBinary()
	if err != nil {
		return nil, err
	}
	dataHash := sha256.Sum256(a.Data)
	b := make([]byte, 0, len(auditTag)+160+len(a.Nonce)+len(proof))
	b = append(b, auditTag...)
	b = append(b, a.Shard[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(a.LeafSize))
	b = binary.BigEndian.AppendUint64(b, a.Leaf)
	b = binary.BigEndian.AppendUint32(b, uint32(len(a.Nonce)))
	b = append(b, a.Nonce...)
	b = append(b, dataHash[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(proof)))
	b = append(b, proof...)
	b = append(b, a.Node[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Time))
	return b, nil
}

// Sign sets Node to k's public key and Sig to k's signature.
func (a *Audit) Sign(k shard.PrivateKey) {
	a.Node = k.Public()
	msg, err := a.signedBytes()
	if err != nil {
		panic(fmt.Sprintf("node: sign audit: %v", err)) // proofs we build are valid
	}
	a.Sig = k.Sign(msg)
}

// Verify checks Node's signature (shard.ErrBadSignature) and that the leaf
// belongs to the shard ID (shard.ErrCorrupt).
func (a Audit) Verify() error {
	msg, err := a.signedBytes()
	if err != nil {
		return fmt.Errorf("node: audit: %w", err)
	}
	if !a.Node.Verify(msg, a.Sig) {
		return fmt.Errorf("node: audit by %s: %w", a.Node, shard.ErrBadSignature)
	}
	if a.LeafSize <= 0 || a.Size < 0 {
		return fmt.Errorf("node: audit: leaf size %d, size %d: %w", a.LeafSize, a.Size, shard.ErrMalformed)
	}
	if err := shard.VerifyProof(a.Shard, a.Size, a.LeafSize, a.Data, a.Proof); err != nil {
		return fmt.Errorf("node: audit of shard %s leaf %d: %w", a.Shard, a.Leaf, err)
	}
	return nil
}

// answers reports whether a answers the challenge (id, leaf, nonce).
func (a Audit) answers(id shard.ID, leaf uint64, nonce []byte) bool {
	return a.Shard == id && a.Leaf == leaf && a.Proof.Leaf == leaf && bytes.Equal(a.Nonce, nonce)
}

func parseAuditNonce(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) == 0 || len(b) > MaxAuditNonce || hex.EncodeToString(b) != s {
		return nil, errorf(ErrBadRequest, "nonce must be 1 to %d bytes in lowercase hex", MaxAuditNonce)
	}
	return b, nil
}
