// Package shard holds the pure functions of Ishtar's data path: keys derived
// from the owner seed, chunked AEAD over segments, Reed-Solomon coding,
// Merkle shard IDs and proofs, and the signed messages of the peer protocol.
// It does no I/O beyond io.Reader/io.ReaderAt and no logging. Bad data
// gives the sentinel errors (ErrCorrupt, ErrUnauthenticated, ...); misuse
// (invalid Params, zero keys, out-of-range indices from the caller) panics.
//
// The formats below are part of the wire and storage format; the node
// package refers to them. Integers are big-endian, "||" is concatenation,
// H is SHA-256.
//
// # Keys
//
// The owner seed is 32 random bytes. Its keys are HKDF-SHA256 (RFC 5869)
// of the seed with no salt and these info labels, 32 bytes each:
//
//	"ishtar owner signing v1"  ed25519 seed (RFC 8032) of the owner key
//	"ishtar key wrapping v1"   XChaCha20-Poly1305 key of WrapKey
//	"ishtar catalog v1"        XChaCha20-Poly1305 key of CatalogKey
//
// The recovery phrase is Crockford base32 (alphabet
// 0123456789ABCDEFGHJKMNPQRSTVWXYZ) of seed || H(seed)[:5], 60 symbols in
// 12 dash-separated groups of 5. Parsing ignores case, dashes and spaces
// and reads O as 0, I and L as 1.
//
// Node IDs and owner IDs are ed25519 public keys; shard IDs are Merkle
// roots. Both are written as 64 lowercase hex digits, the only accepted
// form.
//
// # Wrapped keys and catalog blobs
//
// WrapKey.Wrap and CatalogKey.Seal produce
//
//	0x01 || nonce (24 random bytes) || XChaCha20-Poly1305(plaintext) || tag (16)
//
// with additional data "ishtar/wrapped-key/v1" || 0x01 or
// "ishtar/catalog/v1" || 0x01. A wrapped data key is WrappedSize (73)
// bytes.
//
// # Sealed segments
//
// A segment is sealed with AES-256-GCM under a subkey per sealing:
//
//	subkey = HKDF-SHA256(secret = data key, salt = ctx.Salt,
//	                     info = "ishtar segment v1" || 0x00 || ctx.Object (16) || ctx.Segment (8))
//
// The plaintext is cut into blocks of BlockSize bytes (default 64 KiB);
// the last block may be shorter, and an empty segment is one empty block.
// Block i is sealed with no additional data and the 12-byte nonce
//
//	i as an 11-byte big-endian counter || 0x01 if i is the last block, else 0x00
//
// (age's STREAM construction). The sealed segment is the concatenation of
// the sealed blocks, each its ciphertext followed by its 16-byte tag, so
// sealed block i starts at byte i*(BlockSize+16) and any range of blocks
// opens on its own (SegmentCipher.OpenBlocks, or SegmentCipher.NewReader
// for an io.ReaderAt over the plaintext; SegmentCipher.Open takes a whole
// segment). Its size is
// SealedSize = plaintext size + 16 * BlockCount. Because the key binds the
// object, segment and sealing, the counter binds the position and the flag
// binds the end, a truncated, reordered, altered or transplanted block
// never opens.
//
// # Shards
//
// A sealed segment of size L is split by Reed-Solomon over GF(2^8)
// (klauspost/reedsolomon, Vandermonde-derived systematic matrix) into N
// shards of S = max(1, ceil(L/K)) bytes: data shard i < K holds sealed
// bytes [i*S, (i+1)*S), the last zero-padded, and shards K..N-1 are
// parity. Any K shards rebuild the segment.
//
// # Shard IDs (Merkle trees)
//
// A shard is cut into leaves of BlockSize bytes (the last may be shorter;
// the empty shard is one empty leaf). The tree has the shape of RFC 6962
// §2.1: the root of leaves D[0:n] is
//
//	MTH(D[0:1]) = H(0x00 || D[0])
//	MTH(D[0:n]) = H(0x01 || MTH(D[0:k]) || MTH(D[k:n]))  for n > 1,
//
// where k is the largest power of two smaller than n. The empty shard's
// ID is therefore H(0x00). A Proof of leaf m lists the sibling hashes from
// the leaf up to the root (RFC 6962 PATH(m, D[n])). Its binary form is
//
//	0x01 || leaf index (8) || leaf count (8) || path length (1) || path (32 each)
//
// and its JSON form {"leaf":m,"leaves":n,"path":["<hex>",...]}. A verifier
// checks the leaf count against the shard size, the leaf length, and the
// exact path length.
//
// # Signed messages
//
// NodeRecord, Grant, Receipt, RootRecord and RenewBatch travel as JSON
// (keys and IDs as hex, Sig and Pointer as standard base64). The ed25519 signature Sig
// covers a canonical encoding of every other field, in declaration order,
// after a domain tag: integers as fixed-width big-endian (int64 as its
// two's complement uint64, GrantOp as one byte), keys and IDs as their 32
// bytes, strings and byte slices as a uint32 length then the bytes.
//
//	NodeRecord  "ishtar/node-record/v2\x00" Node Owner OwnerSig Address Capacity Free Version Seq Time
//	owner link  "ishtar/owner-link/v1\x00"  Owner Node (signed by Owner: OwnerSig)
//	Grant       "ishtar/grant/v1\x00"       Op Shard Size Owner LeaseExpiry Time
//	Receipt     "ishtar/receipt/v1\x00"     Shard Size Owner Node Holder LeaseExpiry Time
//	RootRecord  "ishtar/root-record/v1\x00" Owner Seq Pointer Time
//	RenewBatch  "ishtar/renew-batch/v1\x00" Owner Node LeaseExpiry Time Shards
//
// where RenewBatch's Shards are a uint32 count then the IDs' 32 bytes
// each.
//
// Verify first checks the fields (ErrMalformed: signer key present,
// Address <= 256 bytes, Version <= 64, Pointer <= 64 KiB, no negative
// sizes, known GrantOp; in a RenewBatch a node key and 1 to
// MaxRenewBatch (4096) shard IDs, none zero, strictly ascending), then
// the signature against the named signer: Node for NodeRecord and
// Receipt, Owner for Grant, RootRecord and RenewBatch (ErrBadSignature).
// A NodeRecord also carries its owner link: Owner's signature OwnerSig
// over the owner-link encoding, so every node can tell which owner stands
// behind a peer (one owner may run several nodes); a record without a
// valid link does not verify. A node with no owner of its own signs its
// own link (Owner = Node).
package shard
