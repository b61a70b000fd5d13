package main

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The plain baseline: an HTTP server that writes each PUT body to a file
// (temporary name, fsync, rename), sends files back on GET, and lists a
// bucket's directory for ListObjectsV2. No authentication, no checksums,
// no metadata: the least any S3 server must do with the same client.

// servePlain runs the baseline in dir until ctx ends, after printing
// "PLAIN <endpoint>" on stdout.
func servePlain(ctx context.Context, dir string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: plainHandler{dir: dir}, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("PLAIN http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type plainHandler struct{ dir string }

func (h plainHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket == "" || strings.ContainsAny(bucket, `./\`) {
		http.Error(w, "bad bucket", http.StatusBadRequest)
		return
	}
	bdir := filepath.Join(h.dir, bucket)
	var err error
	switch {
	case r.Method == http.MethodPut && key == "":
		err = os.MkdirAll(bdir, 0o755)
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		err = h.copy(w, r, bdir, key)
	case r.Method == http.MethodPut:
		err = h.put(w, r, bdir, key)
	case r.Method == http.MethodGet && key == "" && r.URL.Query().Get("list-type") == "2":
		err = h.list(w, r, bucket, bdir)
	case r.Method == http.MethodGet:
		err = h.get(w, bdir, key)
	default:
		http.Error(w, "not implemented", http.StatusNotImplemented)
		return
	}
	if errors.Is(err, os.ErrNotExist) {
		http.Error(w, "not found", http.StatusNotFound)
	} else if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (h plainHandler) put(w http.ResponseWriter, r *http.Request, bdir, key string) error {
	if strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		return errors.New("aws-chunked bodies are not supported by the plain server")
	}
	f, err := os.CreateTemp(bdir, ".put-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	if _, err := io.Copy(f, r.Body); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(bdir, url.PathEscape(key))); err != nil {
		return err
	}
	w.Header().Set("ETag", `"plain"`)
	return nil
}

// copy copies an object of the same bucket (the bench fills listings
// with copies of an empty object).
func (h plainHandler) copy(w http.ResponseWriter, r *http.Request, bdir, key string) error {
	src, err := url.PathUnescape(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	_, srcKey, _ := strings.Cut(strings.TrimPrefix(src, "/"), "/")
	in, err := os.Open(filepath.Join(bdir, url.PathEscape(srcKey)))
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(filepath.Join(bdir, url.PathEscape(key)))
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	_, err = io.WriteString(w, xml.Header+`<CopyObjectResult><ETag>"plain"</ETag></CopyObjectResult>`)
	return err
}

func (h plainHandler) get(w http.ResponseWriter, bdir, key string) error {
	f, err := os.Open(filepath.Join(bdir, url.PathEscape(key)))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	_, err = io.Copy(w, f) // sendfile
	if err != nil {
		return nil // the response has begun; nothing more to say
	}
	return nil
}

type plainList struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string
	Prefix                string
	KeyCount              int
	MaxKeys               int
	IsTruncated           bool
	NextContinuationToken string `xml:",omitempty"`
	Contents              []plainObject
}

type plainObject struct {
	Key  string
	Size int64
}

// list answers ListObjectsV2 (max-keys and continuation-token only) from
// the bucket's directory, in key order.
func (h plainHandler) list(w http.ResponseWriter, r *http.Request, bucket, bdir string) error {
	q := r.URL.Query()
	max := 1000
	if v, err := strconv.Atoi(q.Get("max-keys")); err == nil && v >= 0 && v < max {
		max = v
	}
	entries, err := os.ReadDir(bdir)
	if err != nil {
		return err
	}
	var keys []string
	for _, e := range entries {
		if k, err := url.PathUnescape(e.Name()); err == nil && !strings.HasPrefix(e.Name(), ".put-") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	after := q.Get("continuation-token")
	i := sort.SearchStrings(keys, after)
	if i < len(keys) && keys[i] == after {
		i++
	}
	out := plainList{Name: bucket, MaxKeys: max}
	for ; i < len(keys) && len(out.Contents) < max; i++ {
		out.Contents = append(out.Contents, plainObject{Key: keys[i]})
	}
	out.KeyCount = len(out.Contents)
	if i < len(keys) && len(out.Contents) > 0 {
		out.IsTruncated = true
		out.NextContinuationToken = out.Contents[len(out.Contents)-1].Key
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = io.WriteString(w, xml.Header)
	return xml.NewEncoder(w).Encode(out)
}

// plainProc is the baseline running as a child process, so that its
// memory is measured apart from the benchmark's.
type plainProc struct {
	cmd      *exec.Cmd
	endpoint string
}

func startPlain(ctx context.Context, dir string) (*plainProc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-plain", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &plainProc{cmd: cmd}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		ep, found := strings.CutPrefix(l, "PLAIN ")
		if !ok || !found {
			p.kill()
			return nil, fmt.Errorf("plain server did not start: %q", l)
		}
		p.endpoint = ep
		return p, nil
	case <-time.After(time.Minute):
		p.kill()
		return nil, errors.New("plain server not ready after a minute")
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	}
}

func (p *plainProc) pid() int { return p.cmd.Process.Pid }

func (p *plainProc) kill() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}
