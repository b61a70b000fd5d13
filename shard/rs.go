package shard

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/reedsolomon"
)

// MaxShards bounds N (the limit of Reed-Solomon over GF(2^8)).
const MaxShards = 256

// Params are the coding parameters: any K of N shards rebuild a segment.
type Params struct {
	K, N      int
	BlockSize int // AEAD block and Merkle leaf size
}

// DefaultParams returns 3 of 5 with 64 KiB blocks: the code of a
// network too small for WideParams, and of this module's tests.
func DefaultParams() Params { return Params{K: 3, N: 5, BlockSize: DefaultBlockSize} }

// WideParams returns 10 of 30 with 64 KiB blocks: the code new segments
// get once the network has 30 peers in distinct address blocks to place
// them on. At 3x expansion it meets what 3 of 5 cannot on a network of
// home machines: eleven nines of durability, 99.9 % availability, repair
// traffic within twice the data's churn (gateway/sim).
func WideParams() Params { return Params{K: 10, N: 30, BlockSize: DefaultBlockSize} }

// Validate checks 1 <= K < N <= MaxShards and 1 <= BlockSize <=
// MaxBlockSize. The functions of this package panic on invalid Params.
func (p Params) Validate() error {
	if p.K < 1 || p.N <= p.K || p.N > MaxShards {
		return fmt.Errorf("shard: invalid params: need 1 <= k < n <= %d, got k=%d n=%d", MaxShards, p.K, p.N)
	}
	if p.BlockSize < 1 || p.BlockSize > MaxBlockSize {
		return fmt.Errorf("shard: invalid params: block size %d not in [1, %d]", p.BlockSize, MaxBlockSize)
	}
	return nil
}

func (p Params) mustValidate() {
	if err := p.Validate(); err != nil {
		panic(err)
	}
}

// ShardSize returns the size of every shard of a sealed segment:
// ceil(sealedSize/K), at least 1.
func ShardSize(p Params, sealedSize int64) int64 {
	p.mustValidate()
	if sealedSize < 0 {
		panic(fmt.Sprintf("shard: negative sealed size %d", sealedSize))
	}
	return max(1, (sealedSize+int64(p.K)-1)/int64(p.K))
}

// EncodedSize returns N*ShardSize: the buffer EncodeInPlace needs.
func EncodedSize(p Params, sealedSize int64) int64 {
	return int64(p.N) * ShardSize(p, sealedSize)
}

var encoders struct {
	sync.RWMutex
	m map[[2]int]reedsolomon.Encoder
}

// encoder returns the cached encoder for (K, N); encoders are safe for
// concurrent use.
func encoder(p Params) reedsolomon.Encoder {
	key := [2]int{p.K, p.N}
	encoders.RLock()
	e := encoders.m[key]
	encoders.RUnlock()
	if e != nil {
		return e
	}
	encoders.Lock()
	defer encoders.Unlock()
	if e = encoders.m[key]; e == nil {
		var err error
		if e, err = reedsolomon.New(p.K, p.N-p.K); err != nil {
			panic(fmt.Sprintf("shard: reedsolomon k=%d n=%d: %v", p.K, p.N, err))
		}
		if encoders.m == nil {
			encoders.m = make(map[[2]int]reedsolomon.Encoder)
		}
		encoders.m[key] = e
	}
	return e
}

// Encode splits a sealed segment into N shards of ShardSize bytes: shard i
// < K holds sealed bytes [i*S, (i+1)*S), zero-padded at the end, and the
// N-K others are parity. The shards share one new buffer; sealed is
// copied once. EncodeInPlace avoids the copy.
func Encode(p Params, sealed []byte) ([][]byte, error) {
	buf := make([]byte, EncodedSize(p, int64(len(sealed))))
	copy(buf, sealed)
	return EncodeInPlace(p, buf, int64(len(sealed)))
}

// EncodeInPlace is Encode without allocating the shards: buf holds the
// sealed segment in its first sealedSize bytes and has room for
// EncodedSize(p, sealedSize) bytes. It zeroes the padding, writes the
// parity after the data and returns the N shards as sub-slices of buf.
func EncodeInPlace(p Params, buf []byte, sealedSize int64) ([][]byte, error) {
	s := ShardSize(p, sealedSize)
	total := int64(p.N) * s
	if int64(cap(buf)) < total || int64(len(buf)) < sealedSize {
		panic(fmt.Sprintf("shard: encode buffer len %d cap %d for %d sealed bytes, need cap %d", len(buf), cap(buf), sealedSize, total))
	}
	buf = buf[:total]
	clear(buf[sealedSize : int64(p.K)*s])
	shards := make([][]byte, p.N)
	for i := range shards {
		shards[i] = buf[int64(i)*s : int64(i+1)*s : int64(i+1)*s]
	}
	if err := encoder(p).Encode(shards); err != nil {
		return nil, fmt.Errorf("shard: encode: %w", err)
	}
	return shards, nil
}

// Reconstruct returns the first sealedSize bytes of the segment from any K
// of its N shards; nil (or empty) entries are missing. It rebuilds only
// missing data shards and does not check the shards: verify parity shards
// by ID first (the AEAD authenticates what comes from data shards). Fewer
// than K shards give ErrTooFewShards; a shard of the wrong size gives
// ErrCorrupt. The shards are not modified.
func Reconstruct(p Params, shards [][]byte, sealedSize int64) ([]byte, error) {
	return ReconstructInto(p, nil, shards, sealedSize)
}

// ReconstructInto is Reconstruct writing into buf's memory when
// cap(buf) >= K*ShardSize, so that repeated reads need not allocate; the
// result aliases buf.
func ReconstructInto(p Params, buf []byte, shards [][]byte, sealedSize int64) ([]byte, error) {
	s, err := checkShards(p, shards, sealedSize)
	if err != nil {
		return nil, err
	}
	data := int64(p.K) * s
	if int64(cap(buf)) < data {
		buf = make([]byte, data)
	}
	buf = buf[:data]
	work := make([][]byte, p.N)
	missing := false
	for i := range p.K {
		part := buf[int64(i)*s : int64(i+1)*s : int64(i+1)*s]
		if len(shards[i]) == 0 {
			work[i] = part[:0] // ReconstructData fills it in place
			missing = true
			continue
		}
		copy(part, shards[i])
		work[i] = part
	}
	if missing {
		copy(work[p.K:], shards[p.K:])
		if err := encoder(p).ReconstructData(work); err != nil {
			return nil, fmt.Errorf("shard: reconstruct: %w", mapRSError(err))
		}
	}
	return buf[:sealedSize], nil
}

// Rebuild fills in every missing (nil or empty) shard of shards, data and
// parity, for repair. Its errors are those of Reconstruct.
func Rebuild(p Params, shards [][]byte, sealedSize int64) error {
	s, err := checkShards(p, shards, sealedSize)
	if err != nil {
		return err
	}
	for i, sh := range shards {
		if len(sh) == 0 {
			shards[i] = make([]byte, 0, s)
		}
	}
	if err := encoder(p).Reconstruct(shards); err != nil {
		return fmt.Errorf("shard: rebuild: %w", mapRSError(err))
	}
	return nil
}

// checkShards validates the shard set and returns the shard size.
func checkShards(p Params, shards [][]byte, sealedSize int64) (int64, error) {
	s := ShardSize(p, sealedSize)
	if len(shards) != p.N {
		panic(fmt.Sprintf("shard: %d shards for n=%d", len(shards), p.N))
	}
	have := 0
	for i, sh := range shards {
		if len(sh) == 0 {
			continue
		}
		if int64(len(sh)) != s {
			return 0, fmt.Errorf("shard: reconstruct: shard %d has %d bytes, want %d: %w", i, len(sh), s, ErrCorrupt)
		}
		have++
	}
	if have < p.K {
		return 0, fmt.Errorf("shard: reconstruct: %d of %d shards, need %d: %w", have, p.N, p.K, ErrTooFewShards)
	}
	return s, nil
}

func mapRSError(err error) error {
	if errors.Is(err, reedsolomon.ErrTooFewShards) {
		return fmt.Errorf("%w: %w", ErrTooFewShards, err)
	}
	return err
}
