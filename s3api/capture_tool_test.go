//go:build capture

package s3api

// The capture tool: runs the S3 clients installed on this machine (aws cli
// 2 and 1, rclone, restic, s3cmd, curl for a presigned URL) against a small
// fake S3 on 127.0.0.1 that records every request byte for byte, and
// rewrites testdata/captured/. TestCapturedRequests (captured_test.go)
// replays the files. Regenerate with:
//
//	go test -tags capture -run TestCaptureClients -v ./s3api/

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// captureConn records every byte read from a connection.
type captureConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *captureConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// take returns what was read since the last take.
func (c *captureConn) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := bytes.Clone(c.buf.Bytes())
	c.buf.Reset()
	return b
}

type captureListener struct{ net.Listener }

func (l captureListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &captureConn{Conn: c}, nil
}

type connKey struct{}

type fakeObject struct {
	data []byte
	etag string
	mod  time.Time
}

// fakeS3 answers just enough S3 for the clients to finish, and records
// each request to dir/<client>/NN-METHOD-path.http.
type fakeS3 struct {
	t       *testing.T
	v       *verifier
	mu      sync.Mutex
	client  string
	seq     map[string]int
	dir     string
	buckets map[string]map[string]*fakeObject
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read body: %v", err)
	}
	raw := r.Context().Value(connKey{}).(*captureConn).take()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.save(raw, r)
	decoded, err := f.authenticate(raw)
	if err != nil {
		f.t.Errorf("%s %s %s: %v", f.client, r.Method, r.RequestURI, err)
		writeFakeError(w, http.StatusForbidden, "SignatureDoesNotMatch")
		return
	}
	_ = body
	f.route(w, r, decoded)
}

func (f *fakeS3) save(raw []byte, r *http.Request) {
	f.seq[f.client]++
	name := fmt.Sprintf("%02d-%s-%s.http", f.seq[f.client], r.Method, slug(r.URL.Path+"?"+r.URL.RawQuery))
	dir := filepath.Join(f.dir, f.client)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

var slugRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func slug(s string) string {
	s = strings.Trim(slugRE.ReplaceAllString(s, "_"), "_")
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// authenticate replays the raw request through verify and returns the
// decoded body.
func (f *fakeS3) authenticate(raw []byte) ([]byte, error) {
	r, err := http.ReadRequest(bufioReader(raw))
	if err != nil {
		return nil, err
	}
	p, err := f.v.verify(r)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(p.Body)
}

func writeFakeError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, code)
}

func writeFakeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/xml")
	b, _ := xml.Marshal(v)
	w.Write([]byte(xml.Header))
	w.Write(b)
}

func (f *fakeS3) route(w http.ResponseWriter, r *http.Request, body []byte) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	switch {
	case bucket == "":
		f.listBuckets(w)
	case key == "":
		f.bucketOp(w, r, bucket, q)
	default:
		f.objectOp(w, r, bucket, key, body)
	}
}

func (f *fakeS3) listBuckets(w http.ResponseWriter) {
	type b struct{ Name, CreationDate string }
	var res struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		Buckets []b      `xml:"Buckets>Bucket"`
	}
	for n := range f.buckets {
		res.Buckets = append(res.Buckets, b{n, "2025-01-01T00:00:00.000Z"})
	}
	writeFakeXML(w, res)
}

func (f *fakeS3) bucketOp(w http.ResponseWriter, r *http.Request, bucket string, q url.Values) {
	objs, ok := f.buckets[bucket]
	switch {
	case r.Method == http.MethodPut:
		if !ok {
			f.buckets[bucket] = map[string]*fakeObject{}
		}
	case !ok:
		writeFakeError(w, http.StatusNotFound, "NoSuchBucket")
	case q.Has("location"):
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, xml.Header+`<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>`)
	case r.Method == http.MethodHead:
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && q.Has("delete"):
		f.deleteObjects(w, r, objs)
	case r.Method == http.MethodGet && (q.Has("versioning") || q.Has("acl") || q.Has("policy")):
		writeFakeError(w, http.StatusNotImplemented, "NotImplemented")
	case r.Method == http.MethodGet:
		f.list(w, bucket, objs, q)
	default:
		writeFakeError(w, http.StatusNotImplemented, "NotImplemented")
	}
}

func (f *fakeS3) deleteObjects(w http.ResponseWriter, r *http.Request, objs map[string]*fakeObject) {
	// The body was consumed for the capture; keys are not needed for the
	// answer the clients check.
	io.WriteString(w, xml.Header+`<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>`)
}

type fakeContent struct {
	Key          string
	LastModified string
	ETag         string
	Size         int
	StorageClass string
}

func (f *fakeS3) list(w http.ResponseWriter, bucket string, objs map[string]*fakeObject, q url.Values) {
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	var keys []string
	for k := range objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var contents []fakeContent
	var prefixes []string
	seen := map[string]bool{}
	for _, k := range keys {
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				p := k[:len(prefix)+i+len(delim)]
				if !seen[p] {
					seen[p] = true
					prefixes = append(prefixes, p)
				}
				continue
			}
		}
		o := objs[k]
		contents = append(contents, fakeContent{k, o.mod.Format("2006-01-02T15:04:05.000Z"), o.etag, len(o.data), "STANDARD"})
	}
	type cp struct{ Prefix string }
	var res struct {
		XMLName        xml.Name `xml:"ListBucketResult"`
		Xmlns          string   `xml:"xmlns,attr"`
		Name           string
		Prefix         string
		Delimiter      string `xml:",omitempty"`
		MaxKeys        int
		KeyCount       int `xml:",omitempty"`
		IsTruncated    bool
		Contents       []fakeContent
		CommonPrefixes []cp
	}
	res.Xmlns, res.Name, res.Prefix, res.Delimiter, res.MaxKeys = "http://s3.amazonaws.com/doc/2006-03-01/", bucket, prefix, delim, 1000
	res.Contents = contents
	for _, p := range prefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, cp{p})
	}
	if q.Get("list-type") == "2" {
		res.KeyCount = len(contents) + len(prefixes)
	}
	writeFakeXML(w, res)
}

func (f *fakeS3) objectOp(w http.ResponseWriter, r *http.Request, bucket, key string, body []byte) {
	objs, ok := f.buckets[bucket]
	if !ok {
		writeFakeError(w, http.StatusNotFound, "NoSuchBucket")
		return
	}
	o := objs[key]
	switch r.Method {
	case http.MethodPut:
		sum := md5.Sum(body)
		o = &fakeObject{data: body, etag: `"` + hex.EncodeToString(sum[:]) + `"`, mod: time.Now().UTC().Truncate(time.Second)}
		objs[key] = o
		w.Header().Set("ETag", o.etag)
	case http.MethodDelete:
		delete(objs, key)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodHead, http.MethodGet:
		if o == nil {
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			writeFakeError(w, http.StatusNotFound, "NoSuchKey")
			return
		}
		w.Header().Set("ETag", o.etag)
		w.Header().Set("Last-Modified", o.mod.Format(http.TimeFormat))
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", o.mod, bytes.NewReader(o.data))
	default:
		writeFakeError(w, http.StatusNotImplemented, "NotImplemented")
	}
}

// selfSigned makes a certificate for 127.0.0.1 and writes its PEM.
func selfSigned(t *testing.T, pemPath string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serve starts the fake on a loopback port, over TLS if cert is given.
func (f *fakeS3) serve(t *testing.T, cert *tls.Certificate) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"http/1.1"}})
		scheme = "https"
	}
	srv := &http.Server{
		Handler:     f,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
	}
	go srv.Serve(captureListener{ln})
	t.Cleanup(func() { srv.Close() })
	return scheme + "://" + ln.Addr().String()
}

// run executes one client command with a bounded time.
func (f *fakeS3) run(t *testing.T, client string, env []string, stdin string, name string, args ...string) string {
	t.Helper()
	f.mu.Lock()
	if _, ok := f.seq[client]; !ok {
		f.seq[client] = 0
		os.RemoveAll(filepath.Join(f.dir, client))
	}
	f.client = client
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func TestCaptureClients(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "captured"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	f := &fakeS3{t: t, dir: dir, buckets: map[string]map[string]*fakeObject{}, seq: map[string]int{},
		v: newVerifier(StaticCredentials{captureKey: captureSecret}, "us-east-1", time.Now)}
	plain := f.serve(t, nil)
	cert := selfSigned(t, filepath.Join(tmp, "ca.pem"))
	secure := f.serve(t, &cert)
	files := captureFiles(t, tmp)
	base := []string{"HOME=" + tmp, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}
	// SigV4 for presigned URLs too (aws cli 1 presigns with SigV2 by default).
	awsConfig := filepath.Join(tmp, "aws-config")
	if err := os.WriteFile(awsConfig, []byte("[default]\ns3 =\n    signature_version = s3v4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	awsEnv := append(base, "AWS_ACCESS_KEY_ID="+captureKey, "AWS_SECRET_ACCESS_KEY="+captureSecret,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+awsConfig, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(tmp, "none"))
	captureAWS2(t, f, awsEnv, plain, files)
	captureAWS1(t, f, awsEnv, plain, secure, filepath.Join(tmp, "ca.pem"), files)
	captureRclone(t, f, base, plain, files)
	captureRestic(t, f, awsEnv, plain, tmp, files)
	captureS3cmd(t, f, base, plain, tmp, files)
}

// captureFiles writes the local files the clients upload.
func captureFiles(t *testing.T, tmp string) map[string]string {
	files := map[string]string{}
	write := func(name string, data []byte) {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files[name] = p
	}
	write("small.txt", []byte("hello from the capture tool\n"))
	write("medium.bin", authPattern(20_000))
	// Incompressible, so restic's pack file spans several 64 KiB chunks.
	rnd := make([]byte, 150_000)
	mrand.NewChaCha8([32]byte{'i', 's', 'h', 't', 'a', 'r'}).Read(rnd)
	write("backup/data.bin", rnd)
	return files
}

func captureAWS2(t *testing.T, f *fakeS3, env []string, ep string, files map[string]string) {
	aws := func(args ...string) string {
		return f.run(t, "aws-cli-2", env, "", "/usr/bin/aws", append([]string{"--endpoint-url", ep}, args...)...)
	}
	aws("s3api", "create-bucket", "--bucket", "cap-aws2")
	aws("s3", "cp", files["medium.bin"], "s3://cap-aws2/dir/a file+with spaces.bin")
	aws("s3", "cp", files["small.txt"], "s3://cap-aws2/unicode/ключ ☃.txt")
	aws("s3api", "put-object", "--bucket", "cap-aws2", "--key", "meta.txt", "--body", files["small.txt"],
		"--metadata", "color=blue", "--content-type", "text/plain")
	aws("s3", "ls", "s3://cap-aws2/dir/")
	aws("s3", "cp", "s3://cap-aws2/meta.txt", filepath.Join(filepath.Dir(files["small.txt"]), "back.txt"))
	url := strings.TrimSpace(aws("s3", "presign", "s3://cap-aws2/meta.txt", "--expires-in", "3600"))
	f.run(t, "aws-cli-2-presigned-curl", env, "", "curl", "-sS", "-o", "/dev/null", url)
	aws("s3", "rm", "s3://cap-aws2/meta.txt")
}

func captureAWS1(t *testing.T, f *fakeS3, env []string, plain, secure, ca string, files map[string]string) {
	aws := func(ep string, args ...string) string {
		return f.run(t, "aws-cli-1", env, "", "/root/.pyenv/shims/aws",
			append([]string{"--endpoint-url", ep, "--ca-bundle", ca}, args...)...)
	}
	aws(secure, "s3api", "create-bucket", "--bucket", "cap-aws1")
	aws(secure, "s3", "cp", files["medium.bin"], "s3://cap-aws1/tls/trailer.bin")
	aws(secure, "s3api", "put-object", "--bucket", "cap-aws1", "--key", "tls/sha256.txt", "--body", files["small.txt"], "--checksum-algorithm", "SHA256")
	aws(secure, "s3api", "put-object", "--bucket", "cap-aws1", "--key", "tls/sha1.txt", "--body", files["small.txt"], "--checksum-algorithm", "SHA1")
	aws(plain, "s3", "cp", files["medium.bin"], "s3://cap-aws1/plain/header.bin")
	aws(plain, "s3api", "list-objects-v2", "--bucket", "cap-aws1", "--prefix", "tls/")
	aws(plain, "s3api", "head-object", "--bucket", "cap-aws1", "--key", "tls/trailer.bin")
	aws(plain, "s3api", "delete-objects", "--bucket", "cap-aws1", "--delete", `{"Objects":[{"Key":"plain/header.bin"}]}`)
	url := strings.TrimSpace(aws(plain, "s3", "presign", "s3://cap-aws1/tls/sha256.txt", "--expires-in", "600"))
	f.run(t, "aws-cli-1-presigned-curl", env, "", "curl", "-sS", "-o", "/dev/null", url)
}

func captureRclone(t *testing.T, f *fakeS3, base []string, ep string, files map[string]string) {
	env := append(base, "RCLONE_CONFIG_CAP_TYPE=s3", "RCLONE_CONFIG_CAP_PROVIDER=Other",
		"RCLONE_CONFIG_CAP_ACCESS_KEY_ID="+captureKey, "RCLONE_CONFIG_CAP_SECRET_ACCESS_KEY="+captureSecret,
		"RCLONE_CONFIG_CAP_ENDPOINT="+ep, "RCLONE_CONFIG_CAP_REGION=us-east-1")
	rclone := func(args ...string) string {
		return f.run(t, "rclone", env, "", "rclone", append([]string{"--config", "/dev/null", "--low-level-retries", "1", "--retries", "1"}, args...)...)
	}
	rclone("mkdir", "cap:cap-rclone")
	rclone("copyto", files["medium.bin"], "cap:cap-rclone/dir/file name+1.bin")
	rclone("copyto", files["small.txt"], "cap:cap-rclone/ünï/x.txt")
	rclone("ls", "cap:cap-rclone")
	rclone("cat", "cap:cap-rclone/ünï/x.txt")
	rclone("deletefile", "cap:cap-rclone/ünï/x.txt")
}

func captureRestic(t *testing.T, f *fakeS3, awsEnv []string, ep, tmp string, files map[string]string) {
	env := append(awsEnv, "RESTIC_PASSWORD=capture", "RESTIC_REPOSITORY=s3:"+ep+"/cap-restic",
		"RESTIC_CACHE_DIR="+filepath.Join(tmp, "restic-cache"))
	f.run(t, "restic", env, "", "restic", "init")
	f.run(t, "restic", env, "", "restic", "backup", filepath.Dir(files["backup/data.bin"]))
	f.run(t, "restic", env, "", "restic", "snapshots")
}

func captureS3cmd(t *testing.T, f *fakeS3, base []string, ep, tmp string, files map[string]string) {
	host := strings.TrimPrefix(ep, "http://")
	cfg := filepath.Join(tmp, "s3cmd.cfg")
	conf := "[default]\naccess_key = " + captureKey + "\nsecret_key = " + captureSecret +
		"\nhost_base = " + host + "\nhost_bucket = " + host + "\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s3cmd := func(args ...string) string {
		return f.run(t, "s3cmd", base, "", "s3cmd", append([]string{"-c", cfg}, args...)...)
	}
	s3cmd("mb", "s3://cap-s3cmd")
	s3cmd("put", files["medium.bin"], "s3://cap-s3cmd/dir/medium (1).bin")
	s3cmd("ls", "s3://cap-s3cmd/dir/")
	s3cmd("get", "--force", "s3://cap-s3cmd/dir/medium (1).bin", filepath.Join(tmp, "s3cmd-out.bin"))
	s3cmd("del", "s3://cap-s3cmd/dir/medium (1).bin")
}
