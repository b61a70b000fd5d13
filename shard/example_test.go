package shard_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"log"

	"ishtar/shard"
)

// Example shows one segment going up (seal, erasure-code, address) and
// coming back with two shards lost.
func Example() {
	seed, err := shard.NewSeed(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	keys := seed.Keys()
	p := shard.DefaultParams()

	// Upload: a fresh data key per object, kept wrapped in the manifest.
	dk, _ := shard.NewDataKey(rand.Reader)
	wrapped, _ := keys.Wrap.Wrap(dk, rand.Reader)
	var ctx shard.SegmentContext
	rand.Read(ctx.Object[:])
	rand.Read(ctx.Salt[:])
	segment := bytes.Repeat([]byte("ishtar "), 100_000)

	c := shard.NewSegmentCipher(dk, ctx, p.BlockSize)
	sealed := c.Seal(nil, segment)
	shards, _ := shard.Encode(p, sealed)
	ids := make([]shard.ID, len(shards))
	for i, s := range shards {
		ids[i] = shard.ComputeID(s, p.BlockSize)
	}

	// Download: data shards 0 and 1 are gone. The parity shards used are
	// checked against their IDs; the AEAD authenticates the rest.
	dk2, _ := keys.Wrap.Unwrap(wrapped)
	got := [][]byte{nil, nil, shards[2], shards[3], shards[4]}
	for i := p.K; i < p.N; i++ {
		if err := shard.Verify(ids[i], got[i], p.BlockSize); err != nil {
			log.Fatal(err)
		}
	}
	rebuilt, err := shard.Reconstruct(p, got, int64(len(sealed)))
	if err != nil {
		log.Fatal(err)
	}
	total := shard.BlockCount(int64(len(segment)), p.BlockSize)
	plain, err := shard.NewSegmentCipher(dk2, ctx, p.BlockSize).OpenBlocks(nil, rebuilt, 0, total)
	fmt.Println(bytes.Equal(plain, segment), err)
	// Output: true <nil>
}

func ExampleParsePhrase() {
	seed, _ := shard.SeedFromBytes(make([]byte, shard.SeedSize))
	phrase := seed.Phrase()
	fmt.Println(phrase)

	typed, err := shard.ParsePhrase("0000o 00000 00000 00000 00000 00000 00000 00000 00000 00000 06ct3 tnqwO")
	fmt.Println(typed.Equal(seed), err)

	_, err = shard.ParsePhrase("00000-00000-00000-00000-00000-00000-00000-00000-00000-00000-06CT3-TNQX0")
	fmt.Println(err)
	// Output:
	// 00000-00000-00000-00000-00000-00000-00000-00000-00000-00000-06CT3-TNQW0
	// true <nil>
	// shard: parse phrase: checksum mismatch: shard: recovery phrase is mistyped or incomplete
}

// ExampleSegmentCipher_OpenBlocks decrypts a byte range of a segment by
// opening only the blocks that hold it.
func ExampleSegmentCipher_OpenBlocks() {
	dk, _ := shard.NewDataKey(rand.Reader)
	const blockSize = 4
	c := shard.NewSegmentCipher(dk, shard.SegmentContext{Segment: 1}, blockSize)
	segment := []byte("the quick brown fox")
	sealed := c.Seal(nil, segment)

	// Bytes [5, 11) lie in blocks 1 and 2.
	first, last := 5/blockSize, (11-1)/blockSize
	sb := blockSize + shard.Overhead
	total := shard.BlockCount(int64(len(segment)), blockSize)
	plain, err := c.OpenBlocks(nil, sealed[first*sb:(last+1)*sb], first, total)
	fmt.Printf("%q %v\n", plain[5-first*blockSize:11-first*blockSize], err)
	// Output: "uick b" <nil>
}

// ExampleBuildProof is an audit: the node proves it holds block 3 of a
// shard, and the owner checks the answer against the shard ID alone.
func ExampleBuildProof() {
	const leafSize = 1024
	data := bytes.Repeat([]byte{7}, 10*leafSize+100)
	id := shard.ComputeID(data, leafSize)

	proof, leaf, err := shard.BuildProof(bytes.NewReader(data), int64(len(data)), leafSize, 3)
	if err != nil {
		log.Fatal(err)
	}
	wire, _ := proof.MarshalBinary()

	var got shard.Proof
	if err := got.UnmarshalBinary(wire); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(got.Path), shard.VerifyProof(id, int64(len(data)), leafSize, leaf, got))
	leaf[0] ^= 1
	fmt.Println(shard.VerifyProof(id, int64(len(data)), leafSize, leaf, got) != nil)
	// Output:
	// 4 <nil>
	// true
}

func ExampleGrant_Sign() {
	seed, _ := shard.SeedFromBytes(bytes.Repeat([]byte{1}, shard.SeedSize))
	owner := seed.Keys().Signing
	g := shard.Grant{
		Op:          shard.OpDelete,
		Shard:       shard.ComputeID([]byte("shard bytes"), shard.DefaultBlockSize),
		Size:        11,
		LeaseExpiry: 1_800_000_000,
		Time:        1_700_000_000_000_000_000,
	}
	g.Sign(owner)
	fmt.Println(g.Owner == owner.Public(), g.Verify())
	g.Size = 12
	fmt.Println(g.Verify())
	// Output:
	// true <nil>
	// shard: grant signed by 2897d91cac993dd101e158464a006ee93a0cfdb238a613fde3c6ad25d9f0b136: shard: bad signature
}
