package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"
)

// TestBigWriteConn sends a body through a bigWriteConn's ReadFrom, as the
// transport does, and reads it back whole on the other end.
func TestBigWriteConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	dial := bigWriteDialer(&net.Dialer{Timeout: 5 * time.Second})
	c, err := dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 3*bodyChunk+12345)
	rand.Read(body)
	rf, ok := c.(io.ReaderFrom)
	if !ok {
		t.Fatal("the connection is not an io.ReaderFrom")
	}
	n, err := rf.ReadFrom(io.LimitReader(bytes.NewReader(body), int64(len(body))))
	if err != nil || n != int64(len(body)) {
		t.Fatalf("ReadFrom = %d, %v; want %d", n, err, len(body))
	}
	c.Close()
	if b := <-got; !bytes.Equal(b, body) {
		t.Fatalf("received %d bytes, not the %d sent", len(b), len(body))
	}
}
