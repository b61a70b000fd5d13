package meta

import (
	"encoding/binary"
	"strings"
)

// Key prefixes, one byte per entity. Never reuse a byte once data with it
// may exist on disk.
//
// The first byte says whose a key is. Uppercase letters ('A' to 'Z',
// keys_catalog.go) are the owner's catalog: buckets, objects, segments,
// multipart uploads and the gateway's counters, one contiguous range
// (CatalogStart to CatalogEnd) that is backed up to the network and
// restored from it. Lowercase letters are this machine's: what the node
// holds for others, its peers, and the gateway's local bookkeeping
// (journal, release queue, backup log), which a restore never brings
// back. Catalogs of schema 2 and before had the catalog under lowercase
// bytes; Open moves them (migrate.go).
const (
	prefixCounter    byte = 'c' // c | name                  -> counter (the node's; C: the catalog's)
	prefixLease      byte = 'e' // e | expiry(8) | shard(32) | owner(32) -> (empty): lease index
	prefixForeign    byte = 'f' // f | ...                   -> foreign roots' index and tallies (roots.go)
	prefixLastGrant  byte = 'g' // g | shard(32) | owner(32) -> last grant time
	prefixOwnerHeld  byte = 'h' // h | owner(32)             -> what is held for the owner
	prefixInline     byte = 'i' // i | shard(32)             -> inline shard bytes
	prefixPeer       byte = 'p' // p | node(32)              -> peer record
	prefixRoot       byte = 'r' // r | owner(32)             -> root record
	prefixShard      byte = 's' // s | shard(32)             -> held shard
	prefixDelegation byte = 'y' // y | shard(32)            -> where a delegated shard went
	// The gateway's, in keys_catalog.go: 'b' buckets, 'd' releases,
	// 'j' journal, 'm' manifests, 'o' objects, 'q' parts, 'u' uploads.
)

func key32(prefix byte, id [32]byte) []byte {
	k := make([]byte, 1+32)
	k[0] = prefix
	copy(k[1:], id[:])
	return k
}

func shardKey(id [32]byte) []byte  { return key32(prefixShard, id) }
func inlineKey(id [32]byte) []byte { return key32(prefixInline, id) }
func peerKey(id [32]byte) []byte   { return key32(prefixPeer, id) }
func ownerKey(id [32]byte) []byte  { return key32(prefixOwnerHeld, id) }
func rootKey(owner [32]byte) []byte {
	return key32(prefixRoot, owner)
}

func lastGrantKey(shard, owner [32]byte) []byte {
	k := make([]byte, 1+32+32)
	k[0] = prefixLastGrant
	copy(k[1:], shard[:])
	copy(k[33:], owner[:])
	return k
}

// leaseKey is the lease index entry of owner's holding of shard, expiring
// at expiry (unix seconds): the expiry big-endian with its sign bit
// flipped, so that keys sort by expiry, negative ones first.
func leaseKey(expiry int64, shard, owner [32]byte) []byte {
	k := make([]byte, leaseKeyLen)
	k[0] = prefixLease
	binary.BigEndian.PutUint64(k[1:], uint64(expiry)^(1<<63))
	copy(k[9:], shard[:])
	copy(k[41:], owner[:])
	return k
}

const leaseKeyLen = 1 + 8 + 32 + 32

// counterKey is the key of the named counter: in the catalog for the
// gateway's counters (names starting "gateway/"), local otherwise.
func counterKey(name string) []byte {
	k := make([]byte, 1+len(name))
	k[0] = prefixCounter
	if strings.HasPrefix(name, catalogCounterPrefix) {
		k[0] = prefixCatalogCounter
	}
	copy(k[1:], name)
	return k
}

// afterKey32 is the start-after key for a 32-byte keyed entity; a zero id
// means "from the beginning".
func afterKey32(prefix byte, after [32]byte) []byte {
	if after == ([32]byte{}) {
		return nil
	}
	return key32(prefix, after)
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil if there is none.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
