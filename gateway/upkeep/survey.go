package upkeep

import (
	"context"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"ishtar/gateway/upkeep/policy"
	"ishtar/meta"
	"ishtar/shard"
)

// Survey is the network's view of the owner's data at one time, as
// `ishtar status` shows it.
type Survey struct {
	Time time.Time `json:"time"`
	// K and N are the policy's code (the widest the owner's segments get).
	K int `json:"k"`
	N int `json:"n"`
	// Codes counts the segments by their code, "k/n": a segment gets the
	// wide code only once the network can place it.
	Codes map[string]int64 `json:"codes"`
	// Objects counts the objects by the healthy shards of their weakest
	// segment (an object without segments, empty, counts under N).
	Objects map[int]int64 `json:"objects"`
	// Segments counts the segments by their healthy shards (held by a
	// peer that answers, or away for less than the offline grace).
	Segments map[int]int64 `json:"segments"`
	// NeedRepair counts the segments at or under the repair threshold;
	// Waiting those of them with fewer than k shards readable now.
	NeedRepair int64 `json:"need_repair"`
	Waiting    int64 `json:"waiting"`
	// LostShards counts the shard records lost (awaiting repair).
	LostShards int64 `json:"lost_shards"`
	// HeldByPeers is what other nodes hold for the owner as they count
	// it, for the shards whose audits pass (see HeldBy); the status shows
	// it with the exchange.
	HeldByPeers int64 `json:"-"`
	// Upkeep is what upkeep did since the daemon started.
	Upkeep Stats `json:"upkeep"`
}

// segmentState is the policy's view of a segment.
func segmentState(seg *meta.Segment) policy.SegmentState {
	st := policy.SegmentState{ID: policy.SegmentID(seg.ID), K: seg.K, N: seg.N}
	for i := range seg.Shards {
		if seg.Shards[i].Stored() {
			st.Shards = append(st.Shards, shardState(seg, i))
		}
	}
	if len(st.Shards) > 0 {
		st.ShardSize = st.Shards[0].Size
	}
	return st
}

// Survey reads every segment and object of the catalog and judges them
// at now with the peers' current states.
func (u *Upkeep) Survey(ctx context.Context) (Survey, error) {
	now := u.cfg.Now()
	pc := u.pol.Config()
	sv := Survey{Time: now, K: pc.K, N: pc.N, Codes: map[string]int64{}, Objects: map[int]int64{}, Segments: map[int]int64{}, Upkeep: u.Stats()}
	peers := u.peers.States(now)
	healthy := make(map[meta.SegmentID]int)
	codes := make(map[[2]int]int64) // named "k/n" once counted
	var after meta.SegmentID
	for {
		segs, err := u.db.Segments(after, segmentsPage)
		if err != nil {
			return sv, err
		}
		for i := range segs {
			heldShards(&segs[i], func(node shard.PublicKey, n int64) {
				if node != u.cfg.Self {
					sv.HeldByPeers += n
				}
			})
			h := u.pol.Segment(now, segmentState(&segs[i]), peers)
			healthy[segs[i].ID] = h.Healthy
			sv.Segments[h.Healthy]++
			codes[[2]int{segs[i].K, segs[i].N}]++
			sv.LostShards += int64(h.Lost)
			switch h.Status {
			case policy.SegmentRepair:
				sv.NeedRepair++
			case policy.SegmentWaiting:
				sv.NeedRepair++
				sv.Waiting++
			}
		}
		if len(segs) < segmentsPage {
			break
		}
		after = segs[len(segs)-1].ID
		if err := ctx.Err(); err != nil {
			return sv, err
		}
	}
	for c, n := range codes {
		sv.Codes[strconv.Itoa(c[0])+"/"+strconv.Itoa(c[1])] = n
	}
	buckets, err := u.db.Buckets()
	if err != nil {
		return sv, err
	}
	for _, b := range buckets {
		if err := u.surveyBucket(ctx, b.Name, healthy, &sv); err != nil {
			return sv, err
		}
	}
	return sv, nil
}

// surveyBucket counts the objects of bucket by their weakest segment.
func (u *Upkeep) surveyBucket(ctx context.Context, bucket string, healthy map[meta.SegmentID]int, sv *Survey) error {
	it, err := u.db.Objects(bucket)
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.SeekGE(""); ok; ok = it.Next() {
		obj, err := u.db.Object(bucket, it.Listing().Key)
		if errors.Is(err, meta.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		weakest := sv.N
		for _, ref := range obj.Segments {
			weakest = min(weakest, healthy[ref.ID]) // a segment gone: 0
		}
		sv.Objects[weakest]++
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return it.Err()
}

// ShardView is one shard of a segment as `ishtar status BUCKET/KEY`
// shows it.
type ShardView struct {
	Index       int       `json:"index"`
	ID          string    `json:"id"`
	Size        int64     `json:"size"` // bytes
	Holder      string    `json:"holder"`
	Address     string    `json:"address,omitempty"` // the holder's URL, if known
	Health      string    `json:"health"`            // healthy, away or lost
	Reason      string    `json:"reason,omitempty"`  // why lost
	LeaseExpiry time.Time `json:"lease_expiry"`
	LastAudit   time.Time `json:"last_audit"`
}

// SegmentView is one segment of an object.
type SegmentView struct {
	ID      string      `json:"id"`
	Size    int64       `json:"size"` // plaintext bytes
	K       int         `json:"k"`
	N       int         `json:"n"`
	Healthy int         `json:"healthy"`
	Status  string      `json:"status"` // ok, repair or waiting
	Shards  []ShardView `json:"shards"`
}

// ObjectView is an object's segments and their holders.
type ObjectView struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	// K and N are the code of its first segment found (the policy's if
	// none is): one upload codes all its segments alike.
	K        int           `json:"k"`
	N        int           `json:"n"`
	Segments []SegmentView `json:"segments"`
}

// Object returns the view of one object (meta.ErrNotFound if there is
// none); addr gives a holder's URL, if known.
func (u *Upkeep) Object(bucket, key string, addr func(shard.PublicKey) string) (ObjectView, error) {
	obj, err := u.db.Object(bucket, key)
	if err != nil {
		return ObjectView{}, err
	}
	now := u.cfg.Now()
	pc := u.pol.Config()
	v := ObjectView{Bucket: bucket, Key: key, Size: obj.Size, K: pc.K, N: pc.N, Segments: []SegmentView{}}
	peers := u.peers.States(now)
	coded := false
	for _, ref := range obj.Segments {
		seg, err := u.db.Segment(ref.ID)
		if errors.Is(err, meta.ErrNotFound) {
			v.Segments = append(v.Segments, SegmentView{ID: hex.EncodeToString(ref.ID[:]), Size: ref.Size, Status: "missing", Shards: []ShardView{}})
			continue
		}
		if err != nil {
			return v, err
		}
		h := u.pol.Segment(now, segmentState(&seg), peers)
		if !coded {
			v.K, v.N, coded = seg.K, seg.N, true
		}
		sv := SegmentView{ID: hex.EncodeToString(ref.ID[:]), Size: ref.Size, K: seg.K, N: seg.N, Healthy: h.Healthy,
			Status: [...]string{"ok", "repair", "waiting"}[min(int(h.Status), 2)], Shards: []ShardView{}}
		for i := range seg.Shards {
			if !seg.Shards[i].Stored() {
				continue
			}
			st := shardState(&seg, i)
			ps, known := peers[st.Holder]
			sh := u.pol.Shard(now, st, ps, known)
			view := ShardView{Index: i, ID: st.ID.String(), Size: st.Size, Holder: st.Holder.String(), Address: addr(st.Holder),
				Health: sh.Health.String(), LeaseExpiry: st.LeaseExpiry, LastAudit: st.LastAudit}
			if sh.Health == policy.Lost {
				view.Reason = sh.Reason.String()
			}
			sv.Shards = append(sv.Shards, view)
		}
		v.Segments = append(v.Segments, sv)
	}
	return v, nil
}

// heldShards calls fn with the node and the bytes, as the node counts
// them (size plus meta.HoldingOverhead), of each shard of seg whose audits
// pass: stored, not lost, no failed audit waiting for its recheck.
func heldShards(seg *meta.Segment, fn func(node shard.PublicKey, bytes int64)) {
	for j := range seg.Shards {
		sh := &seg.Shards[j]
		if sh.Stored() && sh.Health.Lost == 0 && sh.Health.AuditFailures == 0 {
			fn(shard.PublicKey(sh.Node), shardState(seg, j).Size+meta.HoldingOverhead)
		}
	}
}

// HeldBy returns, by node, the bytes the owner's shards take on the nodes
// holding them, as those nodes count them (each shard's size plus
// meta.HoldingOverhead), for the shards whose audits pass: not lost and
// no failed audit waiting for its recheck. It is the owner's side of the
// exchange: what each peer earns for holding the owner's data.
func HeldBy(db *meta.DB) (map[shard.PublicKey]int64, error) {
	out := make(map[shard.PublicKey]int64)
	var after meta.SegmentID
	for {
		segs, err := db.Segments(after, segmentsPage)
		if err != nil {
			return nil, err
		}
		for i := range segs {
			heldShards(&segs[i], func(node shard.PublicKey, n int64) { out[node] += n })
		}
		if len(segs) < segmentsPage {
			return out, nil
		}
		after = segs[len(segs)-1].ID
	}
}
