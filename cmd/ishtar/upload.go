package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const (
	defaultPartSize   = 64 << 20
	minPartSize       = 5 << 20 // S3's minimum for all parts but the last
	maxPartSize       = 5 << 30
	maxParts          = 10000
	uploadConcurrency = 4 // parts in flight
)

// runUpload stores files: one PUT each up to the part size, multipart
// above it, streamed from disk, each checked against the ETag it gets.
func runUpload(ctx context.Context, e *env, args []string) error {
	f := newFileFlags("upload", e)
	var prefix, partFlag string
	f.l.fs.StringVar(&prefix, "prefix", "", "store the files under keys starting with `PREFIX`")
	f.l.fs.StringVar(&partFlag, "part-size", "64MiB", "upload files larger than `SIZE` in parts of that size")
	if err := f.parse(e, args, "[flags] FILE...", 1, -1); err != nil {
		return err
	}
	partSize, err := parseSize(partFlag)
	if err == nil && (partSize < minPartSize || partSize > maxPartSize) {
		err = fmt.Errorf("must be between 5MiB and 5GiB")
	}
	if err != nil {
		return usageErrorf("--part-size: %v", err)
	}
	c, err := f.client(e)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if err := c.ensureBucket(ctx, f.bucket); err != nil {
		return fmt.Errorf("upload: bucket %s: %w", f.bucket, err)
	}
	for _, name := range f.l.fs.Args() {
		key := prefix + filepath.Base(name)
		size, err := uploadFile(ctx, c, f.bucket, key, name, partSize, f.progressOn(e), e)
		if err != nil {
			return fmt.Errorf("upload: %s: %w", name, err)
		}
		fmt.Fprintf(e.stdout, "uploaded %s to %s (%s)\n", name, s3URL(f.bucket, key), formatSize(size))
	}
	return nil
}

func uploadFile(ctx context.Context, c *s3Client, bucket, key, name string, partSize int64, showProgress bool, e *env) (int64, error) {
	file, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, errors.New("not a regular file")
	}
	size := fi.Size()
	p := startProgress(e.stderr, showProgress, filepath.Base(name), size)
	defer p.finish()
	if size <= partSize {
		h := md5.New()
		etag, err := c.putObject(ctx, bucket, key, io.TeeReader(p.reader(io.NewSectionReader(file, 0, size)), h), size)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", s3URL(bucket, key), err)
		}
		return size, checkETag(etag, h)
	}
	return size, uploadMultipart(ctx, c, bucket, key, file, size, partSize, p)
}

// checkETag compares an ETag with the MD5 of what was sent.
func checkETag(etag string, h hash.Hash) error {
	if want := hex.EncodeToString(h.Sum(nil)); etag != want {
		return fmt.Errorf("the endpoint answered ETag %q, but what was sent has MD5 %s", etag, want)
	}
	return nil
}

// uploadMultipart sends file in parts, uploadConcurrency at a time, and
// aborts the upload on any failure.
func uploadMultipart(ctx context.Context, c *s3Client, bucket, key string, file io.ReaderAt, size, partSize int64, p *progress) (err error) {
	if n := (size + partSize - 1) / partSize; n > maxParts {
		partSize = ((size+maxParts-1)/maxParts + 1<<20 - 1) &^ (1<<20 - 1)
	}
	parts := int((size + partSize - 1) / partSize)
	id, err := c.createMultipart(ctx, bucket, key)
	if err != nil {
		return fmt.Errorf("%s: start multipart upload: %w", s3URL(bucket, key), err)
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = c.abortMultipart(actx, bucket, key, id)
		}
	}()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sums := make([][]byte, parts)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(uploadConcurrency, parts) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				off := int64(i) * partSize
				n := min(partSize, size-off)
				h := md5.New()
				body := io.TeeReader(p.reader(io.NewSectionReader(file, off, n)), h)
				etag, err := c.uploadPart(ctx, bucket, key, id, i+1, body, n)
				if err == nil {
					err = checkETag(etag, h)
				}
				if err != nil {
					cancel(fmt.Errorf("part %d: %w", i+1, err))
					continue
				}
				sums[i] = h.Sum(nil)
			}
		}()
	}
feed:
	for i := range parts {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("%s: %w", s3URL(bucket, key), err)
	}

	done := make([]completedPart, parts)
	all := md5.New()
	for i, s := range sums {
		done[i] = completedPart{PartNumber: i + 1, ETag: `"` + hex.EncodeToString(s) + `"`}
		all.Write(s)
	}
	etag, err := c.completeMultipart(ctx, bucket, key, id, done)
	if err != nil {
		return fmt.Errorf("%s: complete multipart upload: %w", s3URL(bucket, key), err)
	}
	if want := fmt.Sprintf("%x-%d", all.Sum(nil), parts); etag != want {
		return fmt.Errorf("%s: the endpoint answered ETag %q, want %s", s3URL(bucket, key), etag, want)
	}
	return nil
}
