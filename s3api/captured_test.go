package s3api

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Capture credentials: testdata/captured was recorded with them by the
// capture tool (capture_tool_test.go, build tag "capture").
const (
	captureKey    = "AKIDISHTARCAPTURE01"
	captureSecret = "ishtar-capture/secret+0123456789abcdefXYZ"
)

// capturedSigningTime is the time a captured request was signed at.
func capturedSigningTime(t *testing.T, r *http.Request) time.Time {
	t.Helper()
	v := r.Header.Get("X-Amz-Date")
	if v == "" {
		v = r.URL.Query().Get("X-Amz-Date")
	}
	at, err := time.Parse(amzDateFormat, v)
	if err != nil {
		t.Fatalf("signing time %q: %v", v, err)
	}
	return at
}

// hasIntegrity reports whether a request carries anything that binds its
// body: a signed hash or signed chunks, Content-MD5, or a checksum.
func hasIntegrity(r *http.Request) bool {
	if ph := r.Header.Get("X-Amz-Content-Sha256"); ph != "" && ph != unsignedPayload {
		return true
	}
	for k := range r.Header {
		k = strings.ToLower(k)
		if k == "content-md5" || k == "x-amz-trailer" || checksumByHeader(k) != nil {
			return true
		}
	}
	return false
}

// TestCapturedRequests replays the requests recorded from aws cli 1 and
// 2, rclone, restic, s3cmd and presigned URLs fetched with curl: each is
// accepted at its signing time, and refused after a one-byte change of
// its signature, of a signed header, or of its body.
func TestCapturedRequests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "captured", "*", "*.http"))
	if err != nil || len(files) < 50 {
		t.Fatalf("captured files: %d, %v", len(files), err)
	}
	modes := map[string]int{}
	for _, f := range files {
		name := strings.TrimPrefix(f, filepath.Join("testdata", "captured")+"/")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			mode := replayCaptured(t, raw)
			modes[mode]++
		})
	}
	for _, m := range []string{"presigned", unsignedPayload, "sha256", streamingUnsignedTrailer,
		"Content-MD5", "x-amz-checksum-crc32", "x-amz-checksum-sha256", "x-amz-checksum-sha1", "multi-chunk"} {
		if modes[m] == 0 {
			t.Errorf("no captured request exercises %s (have %v)", m, modes)
		}
	}
}

// replayCaptured checks one recorded request and returns a label of what
// it exercises (for the coverage check).
func replayCaptured(t *testing.T, raw []byte) string {
	parse := func(b []byte) *http.Request {
		r, err := http.ReadRequest(bufioReader(b))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		return r
	}
	r := parse(raw)
	at := capturedSigningTime(t, r).Add(time.Second)
	v := newVerifier(StaticCredentials{captureKey: captureSecret}, "us-east-1", atClock(at))
	p, err := v.verify(r)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	body, err := drainPayload(p)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	presigned := strings.Contains(r.URL.RawQuery, "X-Amz-Signature=")
	mode := capturedMode(r, presigned, body)

	// The signature.
	sigAt := bytes.Index(raw, []byte("Signature="))
	if sigAt < 0 {
		t.Fatal("no signature")
	}
	mut := bytes.Clone(raw)
	mut[sigAt+len("Signature=")+7] = authFlipHex(mut[sigAt+len("Signature=")+7])
	_, err = v.verify(parse(mut))
	wantAuthCode(t, err, "SignatureDoesNotMatch")
	// A signed header: Host is always signed.
	mut = bytes.Replace(raw, []byte("Host: 127.0.0.1:"), []byte("Host: 127.0.0.2:"), 1)
	_, err = v.verify(parse(mut))
	wantAuthCode(t, err, "SignatureDoesNotMatch")
	// The clock.
	if presigned {
		exp := r.URL.Query().Get("X-Amz-Expires")
		d, _ := time.ParseDuration(exp + "s")
		late := newVerifier(StaticCredentials{captureKey: captureSecret}, "us-east-1", atClock(at.Add(d)))
		_, err = late.verify(parse(raw))
		wantAuthCode(t, err, "AccessDenied")
	} else {
		late := newVerifier(StaticCredentials{captureKey: captureSecret}, "us-east-1", atClock(at.Add(16*time.Minute)))
		_, err = late.verify(parse(raw))
		wantAuthCode(t, err, "RequestTimeTooSkewed")
	}
	// The body: one byte in the middle of what went on the wire.
	start := bytes.Index(raw, []byte("\r\n\r\n")) + 4
	if len(raw) == start {
		return mode
	}
	mut = bytes.Clone(raw)
	mut[start+(len(raw)-start)/2] ^= 0x01
	mr := parse(mut)
	p, err = v.verify(mr)
	if err == nil {
		_, err = drainPayload(p)
	}
	if hasIntegrity(r) && err == nil {
		t.Fatal("a changed body byte was accepted")
	}
	if !hasIntegrity(r) && err != nil {
		t.Fatalf("a body without integrity data refused: %v", err)
	}
	return mode
}

// capturedMode labels what a captured request exercises.
func capturedMode(r *http.Request, presigned bool, body []byte) string {
	ph := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case presigned:
		return "presigned"
	case ph == streamingSigned && len(body) > 2*65536:
		return "multi-chunk"
	case r.Header.Get("Content-Md5") != "":
		return "Content-MD5"
	case r.Header.Get("X-Amz-Trailer") != "" && r.Header.Get("X-Amz-Trailer") != "x-amz-checksum-crc32":
		return r.Header.Get("X-Amz-Trailer")
	}
	for _, a := range checksumAlgorithms {
		if r.Header.Get(a.header) != "" {
			return a.header
		}
	}
	if len(ph) == 64 {
		return "sha256"
	}
	return ph
}
