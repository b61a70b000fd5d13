package gateway

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"ishtar/meta"
	"ishtar/s3api"
	"ishtar/shard"
)

func uploadPart(t *testing.T, tn *testNet, key, id string, n int, data []byte) s3api.PartInfo {
	t.Helper()
	p, err := tn.g.UploadPart(context.Background(), s3api.UploadPartInput{Bucket: "b", Key: key, UploadID: id,
		PartNumber: n, Body: bytes.NewReader(data), Size: int64(len(data)), Checksum: noChecksum})
	if err != nil {
		t.Fatalf("part %d: %v", n, err)
	}
	if p.ETag != md5hex(data) || p.Size != int64(len(data)) || p.PartNumber != n {
		t.Fatalf("part %d: %+v", n, p)
	}
	return p
}

func TestMultipart(t *testing.T) {
	tn := newNet(t, 6, nil)
	ctx := context.Background()
	g := tn.g
	tn.bucket("b")
	_, err := g.CreateMultipartUpload(ctx, s3api.CreateMultipartUploadInput{Bucket: "nope", Key: "k"})
	wantCode(t, err, s3api.ErrNoSuchBucket)
	m := s3api.ObjectMeta{ContentType: "a/b", User: map[string]string{"x": "y"}}
	id, err := g.CreateMultipartUpload(ctx, s3api.CreateMultipartUploadInput{Bucket: "b", Key: "k", Meta: m, ChecksumAlgorithm: "CRC32"})
	if err != nil {
		t.Fatal(err)
	}
	// Part 2 is uploaded twice: the first version's shards are released.
	p1 := randBytes(s3api.MinPartSize, 10)
	p2old := randBytes(s3api.MinPartSize+5, 11)
	p2 := randBytes(s3api.MinPartSize+3, 12)
	p3 := randBytes(1000, 13)
	uploadPart(t, tn, "k", id, 2, p2old)
	oldShards := tn.held()
	uploadPart(t, tn, "k", id, 1, p1)
	parts := []s3api.PartInfo{uploadPart(t, tn, "k", id, 1, p1), uploadPart(t, tn, "k", id, 2, p2)}
	unlisted := uploadPart(t, tn, "k", id, 3, p3)
	_ = unlisted

	ui, ps, err := g.ListParts(ctx, "b", "k", id)
	if err != nil || ui.Key != "k" || ui.UploadID != id || !reflect.DeepEqual(ui.Meta, m) || ui.ChecksumAlgorithm != "CRC32" || len(ps) != 3 {
		t.Fatalf("ListParts = %+v %+v, %v", ui, ps, err)
	}
	for i, p := range ps {
		if p.PartNumber != i+1 {
			t.Fatalf("parts out of order: %+v", ps)
		}
	}
	ups, err := g.ListMultipartUploads(ctx, "b", "")
	if err != nil || len(ups) != 1 || ups[0].UploadID != id {
		t.Fatalf("ListMultipartUploads = %+v, %v", ups, err)
	}
	if ups, _ := g.ListMultipartUploads(ctx, "b", "x"); len(ups) != 0 {
		t.Fatalf("prefix x: %+v", ups)
	}
	// Errors: wrong key, unknown IDs, a bad part list.
	_, _, err = g.ListParts(ctx, "b", "other", id)
	wantCode(t, err, s3api.ErrNoSuchUpload)
	_, _, err = g.ListParts(ctx, "b", "k", "zz")
	wantCode(t, err, s3api.ErrNoSuchUpload)
	_, err = g.UploadPart(ctx, s3api.UploadPartInput{Bucket: "b", Key: "other", UploadID: id, PartNumber: 1,
		Body: failReader{t}, Size: 1, Checksum: noChecksum})
	wantCode(t, err, s3api.ErrNoSuchUpload)
	_, err = g.CompleteMultipartUpload(ctx, s3api.CompleteMultipartUploadInput{Bucket: "b", Key: "k", UploadID: id,
		Parts: []s3api.CompletedPart{{PartNumber: 1, ETag: parts[0].ETag}, {PartNumber: 3, ETag: "bad"}}})
	wantCode(t, err, s3api.ErrInvalidPart)
	_, err = g.CompleteMultipartUpload(ctx, s3api.CompleteMultipartUploadInput{Bucket: "b", Key: "k", UploadID: id,
		Parts: []s3api.CompletedPart{{PartNumber: 3, ETag: unlisted.ETag}, {PartNumber: 1, ETag: parts[0].ETag}}})
	wantCode(t, err, s3api.ErrInvalidPartOrder)

	// The replaced part 2 is released at once (nobody reads parts).
	if _, err := g.releaseDue(ctx); err != nil {
		t.Fatal(err)
	}
	p3shards := tn.held()
	for id := range oldShards {
		if p3shards[id] > 0 {
			t.Fatal("replaced part's shard still held")
		}
	}
	putsBefore := 0
	for _, p := range tn.peers {
		_, _, n := p.counters()
		putsBefore += n
	}
	info, err := g.CompleteMultipartUpload(ctx, s3api.CompleteMultipartUploadInput{Bucket: "b", Key: "k", UploadID: id,
		Parts: []s3api.CompletedPart{{PartNumber: 1, ETag: `"` + parts[0].ETag + `"`}, {PartNumber: 2, ETag: parts[1].ETag}}})
	if err != nil {
		t.Fatal(err)
	}
	etag, _ := s3api.MultipartETag(parts)
	whole := append(append([]byte(nil), p1...), p2...)
	if info.ETag != etag || info.Size != int64(len(whole)) || !reflect.DeepEqual(info.PartSizes, []int64{int64(len(p1)), int64(len(p2))}) ||
		info.Meta.ContentType != "a/b" {
		t.Fatalf("Complete = %+v", info)
	}
	for _, p := range tn.peers {
		_, _, n := p.counters()
		putsBefore -= n
	}
	if putsBefore != 0 {
		t.Fatal("completion stored shards")
	}
	if got := tn.get("b", "k"); !bytes.Equal(got, whole) {
		t.Fatal("assembled object reads wrong")
	}
	got, err := tn.read(ctx, "b", "k", int64(len(p1))-7, 20)
	if err != nil || !bytes.Equal(got, whole[len(p1)-7:len(p1)+13]) {
		t.Fatalf("range across parts: %v", err)
	}
	obj, err := g.GetObject(ctx, "b", "k")
	if err != nil || !reflect.DeepEqual(obj.PartSizes, info.PartSizes) || obj.ETag != etag {
		t.Fatalf("GetObject after complete: %+v, %v", obj, err)
	}
	// The upload is gone; part 3 was released.
	_, _, err = g.ListParts(ctx, "b", "k", id)
	wantCode(t, err, s3api.ErrNoSuchUpload)
	if _, err := g.releaseDue(ctx); err != nil {
		t.Fatal(err)
	}
	objShards := tn.shardsOf("b", "k")
	if held := tn.held(); len(held) != len(objShards) {
		t.Fatalf("%d shards held, the object has %d", len(held), len(objShards))
	}
	if got, want := tn.counter(meta.CounterStoredBytes), tn.g.expansion(tn.g.cfg.Params, int64(len(p1)))+tn.g.expansion(tn.g.cfg.Params, int64(len(p2))); got != want {
		t.Fatalf("stored bytes %d, want %d", got, want)
	}
	// Overwriting the object by a single PUT releases the parts' shards
	// after the delay.
	tn.put("b", "k", []byte("small"))
	tn.releaseAll()
	for id := range objShards {
		if tn.held()[id] > 0 {
			t.Fatal("shard of the overwritten multipart object still held")
		}
	}
}

func TestMultipartAbortReleases(t *testing.T) {
	tn := newNet(t, 5, nil)
	ctx := context.Background()
	tn.bucket("b")
	id, err := tn.g.CreateMultipartUpload(ctx, s3api.CreateMultipartUploadInput{Bucket: "b", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	uploadPart(t, tn, "k", id, 1, randBytes(300<<10, 20))
	uploadPart(t, tn, "k", id, 7, randBytes(10, 21))
	sent := map[shard.ID]bool{}
	for id := range tn.held() {
		sent[id] = true
	}
	wantCode(t, tn.g.AbortMultipartUpload(ctx, "b", "other", id), s3api.ErrNoSuchUpload)
	if err := tn.g.AbortMultipartUpload(ctx, "b", "k", id); err != nil {
		t.Fatal(err)
	}
	wantCode(t, tn.g.AbortMultipartUpload(ctx, "b", "k", id), s3api.ErrNoSuchUpload)
	_, err = tn.g.CompleteMultipartUpload(ctx, s3api.CompleteMultipartUploadInput{Bucket: "b", Key: "k", UploadID: id,
		Parts: []s3api.CompletedPart{{PartNumber: 1, ETag: "x"}}})
	wantCode(t, err, s3api.ErrNoSuchUpload)
	if _, err := tn.g.releaseDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(tn.held()); n != 0 {
		t.Fatalf("%d shards held after abort", n)
	}
	checkDeleteGrants(t, tn, sent)
	if n := tn.counter(meta.CounterStoredBytes); n != 0 {
		t.Fatalf("stored bytes %d after abort", n)
	}
	if err := tn.g.DeleteBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
}
