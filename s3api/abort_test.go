package s3api

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log sink shared by a handler and a test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// readFailBackend reports a failed body read the way the gateway does:
// wrapped, not as an *Error.
type readFailBackend struct {
	*memBackend
	done chan error
}

func (b readFailBackend) PutObject(ctx context.Context, in PutObjectInput) (PutObjectOutput, error) {
	_, err := io.Copy(io.Discard, in.Body)
	if err != nil {
		err = fmt.Errorf("backend: read body: %w", err)
	} else {
		err = fmt.Errorf("backend: body ended")
	}
	b.done <- err
	return PutObjectOutput{}, err
}

// A client that resets its connection mid-upload is no failure of the
// server's: logged at debug level, never as an internal error.
func TestClientResetIsNotAnError(t *testing.T) {
	var logs lockedBuffer
	be := readFailBackend{memBackend: newMemBackend(), done: make(chan error, 1)}
	e := newSDKEnv(t, sdkEnvOptions{plainHTTP: true, log: &logs, backend: be})
	if err := be.CreateBucket(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, e.srv.URL+"/bkt/k", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 1 << 20
	req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	opsSign(t, req, unsignedPayload, e.region)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "PUT /bkt/k HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Host, req.ContentLength)
	if err := req.Header.Write(w); err != nil {
		t.Fatal(err)
	}
	w.WriteString("\r\n")
	w.Write(make([]byte, 64<<10))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// Reset, not close: the server's next read fails.
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
	select {
	case err := <-be.done:
		if err == nil {
			t.Fatal("the backend read the whole body")
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the backend never saw the body fail; log:\n%s", logs.String())
	}
	waitLog := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "client went away") {
		if time.Now().After(waitLog) {
			t.Fatalf("no 'client went away' line; log:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a reset client logged as an error:\n%s", logs.String())
	}
}
