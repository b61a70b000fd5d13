package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// runDownload fetches one object into DEST (default: the key's base name
// in the current directory; a directory: into it; "-": stdout). The file
// appears only once whole and checked.
func runDownload(ctx context.Context, e *env, args []string) error {
	f := newFileFlags("download", e)
	if err := f.parse(e, args, "[flags] KEY [DEST]", 1, 2); err != nil {
		return err
	}
	key := f.l.fs.Arg(0)
	dest := f.l.fs.Arg(1)
	base := path.Base(key)
	if dest == "" || isDir(dest) {
		if base == "." || base == "/" || strings.HasSuffix(key, "/") {
			return usageErrorf("download: key %q has no file name; give DEST", key)
		}
		dest = filepath.Join(dest, base)
	}
	c, err := f.client(e)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	resp, err := c.getObject(ctx, f.bucket, key)
	if err != nil {
		return fmt.Errorf("download: %s: %w", s3URL(f.bucket, key), err)
	}
	defer resp.Body.Close()
	p := startProgress(e.stderr, f.progressOn(e), base, resp.ContentLength)
	body := p.reader(resp.Body)
	etag := strings.Trim(resp.Header.Get("ETag"), `"`)
	if dest == "-" {
		_, err := copyChecked(e.stdout, body, resp.ContentLength, etag)
		p.finish()
		if err != nil {
			return fmt.Errorf("download: %s: %w", s3URL(f.bucket, key), err)
		}
		return nil
	}
	n, err := saveChecked(dest, body, resp.ContentLength, etag)
	p.finish()
	if err != nil {
		return fmt.Errorf("download: %s: %w", s3URL(f.bucket, key), err)
	}
	fmt.Fprintf(e.stdout, "downloaded %s to %s (%s)\n", s3URL(f.bucket, key), dest, formatSize(n))
	return nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// copyChecked copies body to w and checks its length and, for a plain MD5
// ETag, its MD5.
func copyChecked(w io.Writer, body io.Reader, size int64, etag string) (int64, error) {
	var h hash.Hash
	if isMD5(etag) {
		h = md5.New()
		w = io.MultiWriter(w, h)
	}
	n, err := io.Copy(w, body)
	if err != nil {
		return n, err
	}
	if size >= 0 && n != size {
		return n, fmt.Errorf("got %d bytes of %d", n, size)
	}
	if h != nil && hex.EncodeToString(h.Sum(nil)) != etag {
		return n, fmt.Errorf("content does not match its ETag %s", etag)
	}
	return n, nil
}

func isMD5(etag string) bool {
	b, err := hex.DecodeString(etag)
	return err == nil && len(b) == md5.Size
}

// saveChecked writes body to a temporary file beside dest and renames it
// into place once complete, checked and synced.
func saveChecked(dest string, body io.Reader, size int64, etag string) (n int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".ishtar-download-*")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if n, err = copyChecked(tmp, body, size, etag); err != nil {
		return n, err
	}
	if err = tmp.Chmod(fs.FileMode(0o666 &^ umask())); err != nil {
		return n, err
	}
	if err = tmp.Sync(); err != nil {
		return n, err
	}
	if err = tmp.Close(); err != nil {
		return n, err
	}
	if err = os.Rename(tmp.Name(), dest); err != nil {
		return n, errors.Join(err, os.Remove(tmp.Name()))
	}
	return n, nil
}

// umask returns the process umask.
func umask() int {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return m
}
