package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// memBackend is an honest in-memory Backend for this package's tests: a
// map per bucket, sorted on listing, bodies read to EOF before commit.
type memBackend struct {
	mu      sync.Mutex
	buckets map[string]*memBucket
	nextID  int
	// fail, when set, is consulted first by every method; a non-nil result
	// is returned as the method's error (to provoke InternalError etc.).
	fail func(op, bucket, key string) error
}

type memBucket struct {
	created time.Time
	objects map[string]*memObject
	uploads map[string]*memUpload
}

type memObject struct {
	info ObjectInfo
	data []byte
}

type memUpload struct {
	info  UploadInfo
	parts map[int]*memPart
}

type memPart struct {
	info PartInfo
	data []byte
}

var _ Backend = (*memBackend)(nil)

func newMemBackend() *memBackend {
	return &memBackend{buckets: make(map[string]*memBucket)}
}

func (m *memBackend) failed(op, bucket, key string) error {
	m.mu.Lock()
	f := m.fail
	m.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(op, bucket, key)
}

func (m *memBackend) setFail(f func(op, bucket, key string) error) {
	m.mu.Lock()
	m.fail = f
	m.mu.Unlock()
}

// bucket returns the named bucket; the caller holds mu.
func (m *memBackend) bucket(name string) (*memBucket, error) {
	b, ok := m.buckets[name]
	if !ok {
		return nil, ErrNoSuchBucket.WithResource(name)
	}
	return b, nil
}

func (m *memBackend) ListBuckets(ctx context.Context) ([]BucketInfo, error) {
	if err := m.failed("ListBuckets", "", ""); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]BucketInfo, 0, len(m.buckets))
	for name, b := range m.buckets {
		out = append(out, BucketInfo{Name: name, Created: b.created})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *memBackend) CreateBucket(ctx context.Context, bucket string) error {
	if err := m.failed("CreateBucket", bucket, ""); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.buckets[bucket]; ok {
		return ErrBucketAlreadyOwnedByYou.WithResource(bucket)
	}
	m.buckets[bucket] = &memBucket{
		created: time.Now(),
		objects: make(map[string]*memObject),
		uploads: make(map[string]*memUpload),
	}
	return nil
}

func (m *memBackend) HeadBucket(ctx context.Context, bucket string) error {
	if err := m.failed("HeadBucket", bucket, ""); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.bucket(bucket)
	return err
}

func (m *memBackend) DeleteBucket(ctx context.Context, bucket string) error {
	if err := m.failed("DeleteBucket", bucket, ""); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return err
	}
	if len(b.objects) > 0 || len(b.uploads) > 0 {
		return ErrBucketNotEmpty.WithResource(bucket)
	}
	delete(m.buckets, bucket)
	return nil
}

func (m *memBackend) ListObjects(ctx context.Context, in ListObjectsInput) (ListObjectsOutput, error) {
	if err := m.failed("ListObjects", in.Bucket, ""); err != nil {
		return ListObjectsOutput{}, err
	}
	m.mu.Lock()
	b, err := m.bucket(in.Bucket)
	if err != nil {
		m.mu.Unlock()
		return ListObjectsOutput{}, err
	}
	objs := make([]ObjectInfo, 0, len(b.objects))
	for k, o := range b.objects {
		if strings.HasPrefix(k, in.Prefix) {
			objs = append(objs, o.info)
		}
	}
	m.mu.Unlock()
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	return ListPage(NewSliceIterator(objs), in)
}

func (m *memBackend) GetObject(ctx context.Context, bucket, key string) (*Object, error) {
	if err := m.failed("GetObject", bucket, key); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	o, ok := b.objects[key]
	if !ok {
		return nil, ErrNoSuchKey.WithResource("/" + bucket + "/" + key)
	}
	data := o.data // immutable once stored: the snapshot
	open := func(ctx context.Context, offset, length int64) (io.ReadCloser, error) {
		if err := m.failed("Open", bucket, key); err != nil {
			return nil, err
		}
		if offset < 0 || length < 0 || offset+length > int64(len(data)) {
			return nil, fmt.Errorf("memback: range %d+%d outside %d bytes", offset, length, len(data))
		}
		return io.NopCloser(bytes.NewReader(data[offset : offset+length])), nil
	}
	return &Object{ObjectInfo: o.info, Open: open}, nil
}

// readAll reads an upload body to EOF, checking its size, and returns the
// bytes with their hex MD5. Any read error (an integrity *Error) wins.
func memReadAll(body io.Reader, size int64, contentMD5 []byte) ([]byte, string, error) {
	h := md5.New()
	data, err := io.ReadAll(io.TeeReader(body, h))
	if err != nil {
		return nil, "", err
	}
	if size >= 0 && int64(len(data)) != size {
		return nil, "", ErrIncompleteBody
	}
	etag := hex.EncodeToString(h.Sum(nil))
	return data, etag, CheckContentMD5(contentMD5, etag)
}

func (m *memBackend) PutObject(ctx context.Context, in PutObjectInput) (PutObjectOutput, error) {
	if err := m.failed("PutObject", in.Bucket, in.Key); err != nil {
		return PutObjectOutput{}, err
	}
	if err := m.HeadBucket(ctx, in.Bucket); err != nil {
		return PutObjectOutput{}, err
	}
	data, etag, err := memReadAll(in.Body, in.Size, in.ContentMD5)
	if err != nil {
		return PutObjectOutput{}, err
	}
	now := time.Now()
	info := ObjectInfo{Key: in.Key, Size: int64(len(data)), ETag: etag, LastModified: now,
		Meta: in.Meta, Checksum: in.Checksum()}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(in.Bucket)
	if err != nil {
		return PutObjectOutput{}, err
	}
	b.objects[in.Key] = &memObject{info: info, data: data}
	return PutObjectOutput{ETag: etag, LastModified: now}, nil
}

func (m *memBackend) CopyObject(ctx context.Context, in CopyObjectInput) (ObjectInfo, error) {
	if err := m.failed("CopyObject", in.Bucket, in.Key); err != nil {
		return ObjectInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sb, err := m.bucket(in.SrcBucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	src, ok := sb.objects[in.SrcKey]
	if !ok {
		return ObjectInfo{}, ErrNoSuchKey.WithResource("/" + in.SrcBucket + "/" + in.SrcKey)
	}
	db, err := m.bucket(in.Bucket)
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := in.Check(src.info); err != nil {
		return ObjectInfo{}, err
	}
	info := src.info
	info.Key, info.LastModified = in.Key, time.Now()
	if in.Meta != nil {
		info.Meta = *in.Meta
	}
	db.objects[in.Key] = &memObject{info: info, data: src.data}
	return info, nil
}

func (m *memBackend) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := m.failed("DeleteObject", bucket, key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return err
	}
	delete(b.objects, key)
	return nil
}

func (m *memBackend) DeleteObjects(ctx context.Context, bucket string, keys []string) ([]error, error) {
	if err := m.failed("DeleteObjects", bucket, ""); err != nil {
		return nil, err
	}
	errs := make([]error, len(keys))
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if m.fail != nil {
			errs[i] = m.fail("DeleteObjects.key", bucket, k)
		}
		if errs[i] == nil {
			delete(b.objects, k)
		}
	}
	return errs, nil
}

func (m *memBackend) CreateMultipartUpload(ctx context.Context, in CreateMultipartUploadInput) (string, error) {
	if err := m.failed("CreateMultipartUpload", in.Bucket, in.Key); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(in.Bucket)
	if err != nil {
		return "", err
	}
	m.nextID++
	id := fmt.Sprintf("upload-%08d", m.nextID)
	b.uploads[id] = &memUpload{
		info: UploadInfo{Key: in.Key, UploadID: id, Initiated: time.Now(), Meta: in.Meta,
			ChecksumAlgorithm: in.ChecksumAlgorithm},
		parts: make(map[int]*memPart),
	}
	return id, nil
}

// upload returns the upload; the caller holds mu.
func (m *memBackend) upload(bucket, key, id string) (*memBucket, *memUpload, error) {
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, nil, err
	}
	u, ok := b.uploads[id]
	if !ok || u.info.Key != key {
		return nil, nil, ErrNoSuchUpload
	}
	return b, u, nil
}

func (m *memBackend) UploadPart(ctx context.Context, in UploadPartInput) (PartInfo, error) {
	if err := m.failed("UploadPart", in.Bucket, in.Key); err != nil {
		return PartInfo{}, err
	}
	m.mu.Lock()
	_, _, err := m.upload(in.Bucket, in.Key, in.UploadID)
	m.mu.Unlock()
	if err != nil {
		return PartInfo{}, err
	}
	data, etag, err := memReadAll(in.Body, in.Size, in.ContentMD5)
	if err != nil {
		return PartInfo{}, err
	}
	p := PartInfo{PartNumber: in.PartNumber, Size: int64(len(data)), ETag: etag,
		LastModified: time.Now(), Checksum: in.Checksum()}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, u, err := m.upload(in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return PartInfo{}, err
	}
	u.parts[in.PartNumber] = &memPart{info: p, data: data}
	return p, nil
}

func (m *memBackend) CompleteMultipartUpload(ctx context.Context, in CompleteMultipartUploadInput) (ObjectInfo, error) {
	if err := m.failed("CompleteMultipartUpload", in.Bucket, in.Key); err != nil {
		return ObjectInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, u, err := m.upload(in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return ObjectInfo{}, err
	}
	stored := make([]PartInfo, 0, len(u.parts))
	for _, p := range u.parts {
		stored = append(stored, p.info)
	}
	chosen, etag, err := CompleteParts(in.Parts, stored)
	if err != nil {
		return ObjectInfo{}, err
	}
	var data []byte
	sizes := make([]int64, len(chosen))
	for i, p := range chosen {
		data = append(data, u.parts[p.PartNumber].data...)
		sizes[i] = p.Size
	}
	info := ObjectInfo{Key: in.Key, Size: int64(len(data)), ETag: etag, LastModified: time.Now(),
		Meta: u.info.Meta, PartSizes: sizes}
	b.objects[in.Key] = &memObject{info: info, data: data}
	delete(b.uploads, in.UploadID)
	return info, nil
}

func (m *memBackend) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if err := m.failed("AbortMultipartUpload", bucket, key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, _, err := m.upload(bucket, key, uploadID)
	if err != nil {
		return err
	}
	delete(b.uploads, uploadID)
	return nil
}

func (m *memBackend) ListParts(ctx context.Context, bucket, key, uploadID string) (UploadInfo, []PartInfo, error) {
	if err := m.failed("ListParts", bucket, key); err != nil {
		return UploadInfo{}, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, u, err := m.upload(bucket, key, uploadID)
	if err != nil {
		return UploadInfo{}, nil, err
	}
	parts := make([]PartInfo, 0, len(u.parts))
	for _, p := range u.parts {
		parts = append(parts, p.info)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	return u.info, parts, nil
}

func (m *memBackend) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]UploadInfo, error) {
	if err := m.failed("ListMultipartUploads", bucket, ""); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	var out []UploadInfo
	for _, u := range b.uploads {
		if strings.HasPrefix(u.info.Key, prefix) {
			out = append(out, u.info)
		}
	}
	return out, nil
}

// put stores an object directly, for tests that need many keys quickly.
func (m *memBackend) put(bucket, key string, data []byte) {
	sum := md5.Sum(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buckets[bucket].objects[key] = &memObject{
		info: ObjectInfo{Key: key, Size: int64(len(data)), ETag: hex.EncodeToString(sum[:]),
			LastModified: time.Now()},
		data: data,
	}
}

// has reports whether an object exists, without the HTTP layer.
func (m *memBackend) has(bucket, key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[bucket]
	if !ok {
		return false
	}
	_, ok = b.objects[key]
	return ok
}

var errInjected = errors.New("memback: injected failure")
