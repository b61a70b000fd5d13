package meta

// fixture is a catalog as a gateway and its node wrote it: every kind of
// entity, deterministic, so that a catalog written by an older layout
// (testdata/schema2, see fixture_gen_test.go) can be checked entity by
// entity once migrated.
type fixture struct {
	buckets  []Bucket
	objects  []Object
	segments []Segment
	uploads  []Upload
	parts    []Part
	journals []Journal
	releases []Release
	held     []HeldShard
	inline   map[[32]byte][]byte
	grants   map[[2][32]byte]int64
	peers    []Peer
	roots    []Root
	counters map[string]int64
}

func fid(n byte) (id [32]byte) {
	for i := range id {
		id[i] = n + byte(i)
	}
	return id
}

func fixtureData() fixture {
	var f fixture
	f.buckets = []Bucket{{Name: "alpha", Created: 1_700_000_000_000_000_000}, {Name: "beta", Created: 1_700_000_001_000_000_000}}
	var seg SegmentID
	copy(seg[:], "segment-one-xxxxxxxxxxxx")
	var seg2 SegmentID
	copy(seg2[:], "segment-two-xxxxxxxxxxxx")
	f.segments = []Segment{
		{ID: seg, Object: [16]byte{1}, Number: 0, Salt: [16]byte{2}, WrappedKey: []byte("wrapped-key-bytes"), PlainSize: 1000, SealedSize: 1016,
			K: 2, N: 3, BlockSize: 1024, Refs: 1, Shards: []SegmentShard{
				{ID: fid(10), Node: fid(20), Holder: fid(20), LeaseExpiry: 1_800_000_000, Time: 5, Sig: []byte("sig0"), Health: ShardHealth{LastAudit: 1_700_000_000}},
				{ID: fid(11), Node: fid(21), Holder: fid(21), LeaseExpiry: 1_800_000_000, Time: 6, Sig: []byte("sig1"), Health: ShardHealth{AuditFailures: 1, RecheckAt: 1_700_000_900}},
				{ID: fid(12), Node: fid(22), Holder: fid(22), LeaseExpiry: 1_800_000_000, Time: 7, Sig: []byte("sig2"), Health: ShardHealth{Lost: 1}},
			}},
		{ID: seg2, Object: [16]byte{3}, Number: 1, WrappedKey: []byte("k2"), PlainSize: 10, SealedSize: 26, K: 2, N: 3, BlockSize: 1024, Refs: 2,
			Shards: []SegmentShard{{ID: fid(13), Node: fid(20), Holder: fid(20)}, {}, {ID: fid(14), Node: fid(22), Holder: fid(22)}}},
	}
	f.objects = []Object{
		{Bucket: "alpha", Key: "a/one.txt", Size: 1000, ETag: "0123456789abcdef0123456789abcdef", Modified: 1_700_000_002_000_000_000,
			Meta: ObjectMeta{ContentType: "text/plain", User: map[string]string{"color": "blue"}}, Segments: []SegmentRef{{ID: seg, Size: 1000}}},
		{Bucket: "alpha", Key: "b/two", Size: 10, ETag: "ffffffffffffffffffffffffffffffff-2", Modified: 1_700_000_003_000_000_000,
			ChecksumAlgorithm: "CRC32", ChecksumValue: "AAAAAA==", PartSizes: []int64{5, 5}, Segments: []SegmentRef{{ID: seg2, Size: 10}}},
		{Bucket: "beta", Key: "empty", ETag: "d41d8cd98f00b204e9800998ecf8427e", Modified: 1_700_000_004_000_000_000},
	}
	f.uploads = []Upload{{Bucket: "beta", ID: UploadID{9}, Key: "big", Initiated: 1_700_000_005_000_000_000, Meta: ObjectMeta{CacheControl: "no-cache"}, ChecksumAlgorithm: "SHA256"}}
	f.parts = []Part{{Upload: UploadID{9}, Number: 1, Size: 10, ETag: "00112233445566778899aabbccddeeff", Modified: 1_700_000_006_000_000_000, Segments: []SegmentRef{{ID: seg2, Size: 10}}}}
	f.journals = []Journal{{Segment: seg2, Created: 1_700_000_007_000_000_000, Shards: []PendingShard{{Shard: fid(15), Node: fid(23), Size: 13}}}}
	f.releases = []Release{{Shard: fid(16), Node: fid(24), Size: 13, Enqueued: 8, NotBefore: 9, Attempts: 2}}
	f.held = []HeldShard{
		{ID: fid(30), Size: 4096, StoredAt: 11, Location: LocationFile, Holders: []Holding{{Owner: fid(40), LeaseExpiry: 1_800_000_000, StoredAt: 11}}},
		{ID: fid(31), Size: 100, StoredAt: 12, Location: LocationInline, Holders: []Holding{
			{Owner: fid(40), LeaseExpiry: 1_800_000_100, StoredAt: 12}, {Owner: fid(41), LeaseExpiry: 1_800_000_200, StoredAt: 13}}},
	}
	f.inline = map[[32]byte][]byte{fid(31): []byte("inline shard bytes")}
	f.grants = map[[2][32]byte]int64{{fid(30), fid(40)}: 14, {fid(31), fid(41)}: 15}
	f.peers = []Peer{
		{ID: fid(50), Seq: 3, Seen: 16, Record: []byte("signed record"), Source: "10.0.0.0/24", Table: PeerTried, Change: 1, History: []byte("h")},
		{ID: fid(51), Seq: 1, Seen: 17, Record: []byte("another"), Change: 2},
	}
	f.roots = []Root{{Owner: fid(40), Seq: 7, Record: []byte(`{"owner":"..."}`)}}
	f.counters = map[string]int64{CounterStoredBytes: 3000, CounterObjects: 3, CounterLogicalBytes: 1010}
	return f
}

// write stores f in db with the meta API of its time.
func (f fixture) write(db *DB) error {
	return db.Update(func(b *Batch) error {
		for _, x := range f.buckets {
			if err := b.PutBucket(x); err != nil {
				return err
			}
		}
		for _, x := range f.segments {
			if err := b.PutSegment(x); err != nil {
				return err
			}
		}
		for _, x := range f.objects {
			if err := b.PutObject(x); err != nil {
				return err
			}
		}
		for _, x := range f.uploads {
			if err := b.PutUpload(x); err != nil {
				return err
			}
		}
		for _, x := range f.parts {
			if err := b.PutPart(x); err != nil {
				return err
			}
		}
		for _, x := range f.journals {
			if err := b.PutJournal(x); err != nil {
				return err
			}
		}
		for _, x := range f.releases {
			if err := b.PutRelease(x); err != nil {
				return err
			}
		}
		for _, x := range f.held {
			if err := b.PutHeldShard(x); err != nil {
				return err
			}
			for _, hd := range x.Holders {
				if _, err := b.AddOwnerHeld(hd.Owner, 1, x.Size); err != nil {
					return err
				}
			}
			if _, err := b.AddCounter(CounterUsedBytes, x.Size); err != nil {
				return err
			}
		}
		for id, data := range f.inline {
			if err := b.PutInlineShard(id, data); err != nil {
				return err
			}
		}
		for k, t := range f.grants {
			if err := b.SetLastGrant(k[0], k[1], t); err != nil {
				return err
			}
		}
		for _, x := range f.peers {
			if err := b.PutPeer(x); err != nil {
				return err
			}
		}
		if err := b.SetPeerChanges(2); err != nil {
			return err
		}
		for _, x := range f.roots {
			if err := b.PutRoot(x); err != nil {
				return err
			}
		}
		for name, v := range f.counters {
			if _, err := b.AddCounter(name, v); err != nil {
				return err
			}
		}
		return nil
	})
}
