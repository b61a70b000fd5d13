package node

import (
	"strings"
	"testing"

	"ishtar/shard"
)

// TestCanonicalRequest pins the signed byte string to the layout in the
// package doc.
func TestCanonicalRequest(t *testing.T) {
	var node shard.PublicKey
	for i := range node {
		node[i] = byte(i)
	}
	sr := signedRequest{
		Method: "POST", RequestURI: "/v1/shards/ab?x=1", Time: -12345,
		Grant: "eyJvcCI6InN0b3JlIn0",
	}
	for i := range sr.Nonce {
		sr.Nonce[i] = 0xf0 | byte(i)
	}
	sr.BodyHash[31] = 0xff
	for i := range sr.Target {
		sr.Target[i] = 0x20 + byte(i)
	}
	want := strings.Join([]string{
		"ishtar/request/v2",
		"POST",
		"/v1/shards/ab?x=1",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
		"-12345",
		"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
		strings.Repeat("00", 31) + "ff",
		"eyJvcCI6InN0b3JlIn0",
	}, "\n") + "\n"
	if got := string(sr.canonical(node)); got != want {
		t.Fatalf("canonical request:\n%q\nwant\n%q", got, want)
	}
	sr.Grant = ""
	if got := string(sr.canonical(node)); !strings.HasSuffix(got, strings.Repeat("00", 31)+"ff\n\n") {
		t.Fatalf("canonical request without a grant ends %q", got[len(got)-10:])
	}
	sr.Target = shard.PublicKey{}
	if got := string(sr.canonical(node)); !strings.Contains(got, "1c1d1e1f\n\n-12345\n") {
		t.Fatalf("canonical request without a target: %q", got)
	}
}
