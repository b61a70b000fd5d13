package s3api

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
)

// TestChecksumAlgorithms checks each algorithm's check value over
// "123456789" (the CRC catalogue's), and the digest sizes.
func TestChecksumAlgorithms(t *testing.T) {
	want := map[string]string{
		"CRC32":     "cbf43926",
		"CRC32C":    "e3069283",
		"CRC64NVME": "ae8b14860a799888",
		"SHA1":      "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
		"SHA256":    "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
	}
	for _, a := range checksumAlgorithms {
		h := a.newHash()
		h.Write([]byte("123456789"))
		sum := h.Sum(nil)
		if got := hex.EncodeToString(sum); got != want[a.name] {
			t.Errorf("%s(123456789) = %s, want %s", a.name, got, want[a.name])
		}
		if len(sum) != a.size {
			t.Errorf("%s size %d, digest %d", a.name, a.size, len(sum))
		}
		if checksumByName(a.name) != a || checksumByHeader(a.header) != a {
			t.Errorf("%s lookup", a.name)
		}
	}
}

func checksumB64(name string, data []byte) string {
	h := checksumByName(name).newHash()
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// TestChecksumHeaders covers Content-MD5 and x-amz-checksum-* sent as
// request headers, and x-amz-content-sha256 as a real hash.
func TestChecksumHeaders(t *testing.T) {
	body := authPattern(100_000)
	other := append(bytes.Clone(body[:len(body)-1]), body[len(body)-1]^1)
	type checksumCase struct {
		name      string
		ph        string
		hdr       map[string]string
		verifyErr string // code from verify
		bodyErr   string // code instead of io.EOF
		algo      string // reported by checksum()
	}
	cases := []checksumCase{
		{"unsigned, nothing", unsignedPayload, nil, "", "", ""},
		{"sha256 ok", hexSHA256(body), nil, "", "", ""},
		{"sha256 mismatch", hexSHA256(other), nil, "", "XAmzContentSHA256Mismatch", ""},
		{"sha256 upper-case hex", hexUpper(hexSHA256(body)), nil, "", "", ""},
		{"md5 ok", unsignedPayload, map[string]string{"Content-MD5": contentMD5(body)}, "", "", ""},
		{"md5 mismatch", unsignedPayload, map[string]string{"Content-MD5": contentMD5(other)}, "", "BadDigest", ""},
		{"md5 malformed", unsignedPayload, map[string]string{"Content-MD5": "not base64!"}, "InvalidDigest", "", ""},
		{"md5 wrong length", unsignedPayload, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString([]byte("short"))}, "InvalidDigest", "", ""},
		{"md5 and sha256 ok", hexSHA256(body), map[string]string{"Content-MD5": contentMD5(body)}, "", "", ""},
		{"two checksums", unsignedPayload, map[string]string{"X-Amz-Checksum-Crc32": checksumB64("CRC32", body), "X-Amz-Checksum-Sha1": checksumB64("SHA1", body)}, "InvalidRequest", "", ""},
		{"checksum malformed", unsignedPayload, map[string]string{"X-Amz-Checksum-Crc32": "AAAA"}, "InvalidRequest", "", ""},
		{"sdk algorithm without checksum", unsignedPayload, map[string]string{"X-Amz-Sdk-Checksum-Algorithm": "CRC32"}, "InvalidRequest", "", ""},
		{"sdk algorithm differs", unsignedPayload, map[string]string{"X-Amz-Sdk-Checksum-Algorithm": "CRC32C", "X-Amz-Checksum-Crc32": checksumB64("CRC32", body)}, "InvalidRequest", "", ""},
		{"sdk algorithm unknown", unsignedPayload, map[string]string{"X-Amz-Sdk-Checksum-Algorithm": "MD4", "X-Amz-Checksum-Crc32": checksumB64("CRC32", body)}, "InvalidRequest", "", ""},
		{"sdk algorithm matches", unsignedPayload, map[string]string{"X-Amz-Sdk-Checksum-Algorithm": "crc32", "X-Amz-Checksum-Crc32": checksumB64("CRC32", body)}, "", "", "CRC32"},
		{"trailer header without streaming", unsignedPayload, map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}, "InvalidRequest", "", ""},
		{"checksum mode is not a checksum", unsignedPayload, map[string]string{"X-Amz-Checksum-Mode": "ENABLED", "X-Amz-Checksum-Type": "FULL_OBJECT"}, "", "", ""},
	}
	for _, a := range checksumAlgorithms {
		cases = append(cases,
			checksumCase{a.name + " ok", unsignedPayload, map[string]string{a.header: checksumB64(a.name, body)}, "", "", a.name},
			checksumCase{a.name + " mismatch", hexSHA256(body), map[string]string{a.header: checksumB64(a.name, other)}, "", "BadDigest", ""},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := authSignedPut(t, body, c.ph, c.hdr)
			p, err := authVerifier(authTime).verify(r)
			if c.verifyErr != "" {
				wantAuthCode(t, err, c.verifyErr)
				return
			}
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			got, err := drainPayload(p)
			if c.bodyErr != "" {
				wantAuthCode(t, err, c.bodyErr)
				if a, v := p.checksum(); a != "" || v != "" {
					t.Fatalf("checksum() = %s %s after a failure", a, v)
				}
				return
			}
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("body: %d bytes, %v", len(got), err)
			}
			a, v := p.checksum()
			if a != c.algo || (a != "" && v != checksumB64(a, body)) {
				t.Fatalf("checksum() = %s %s, want %s", a, v, c.algo)
			}
		})
	}
}

func hexUpper(s string) string { return string(bytes.ToUpper([]byte(s))) }

// TestChecksumCompleteMultipart: on CompleteMultipartUpload the checksum
// headers describe the object, not the XML body, and are not checked.
func TestChecksumCompleteMultipart(t *testing.T) {
	xml := []byte("<CompleteMultipartUpload></CompleteMultipartUpload>")
	r, _ := http.NewRequest(http.MethodPost, "http://"+authHost+"/bucket/key?uploadId=abc", bytes.NewReader(xml))
	r.Header.Set("X-Amz-Checksum-Crc32", "AAAAAA==-3")
	authSDKSign(t, r, hexSHA256(xml), authTime)
	p, err := authVerifier(authTime).verify(asServerRequest(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := drainPayload(p); err != nil || !bytes.Equal(got, xml) {
		t.Fatalf("body %q %v", got, err)
	}
}

// TestTruncatedBody: a client that stops before Content-Length bytes gets
// IncompleteBody, never io.EOF.
func TestTruncatedBody(t *testing.T) {
	body := authPattern(5000)
	for _, ph := range []string{unsignedPayload, hexSHA256(body)} {
		r, _ := http.NewRequest(http.MethodPut, "http://"+authHost+"/bucket/key", bytes.NewReader(body))
		authSDKSign(t, r, ph, authTime)
		var wire bytes.Buffer
		if err := r.Write(&wire); err != nil {
			t.Fatal(err)
		}
		cut := wire.Bytes()[:wire.Len()-100]
		sr, err := http.ReadRequest(bufioReader(cut))
		if err != nil {
			t.Fatal(err)
		}
		p, err := authVerifier(authTime).verify(sr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := drainPayload(p)
		wantAuthCode(t, err, "IncompleteBody")
		if len(got) != len(body)-100 {
			t.Fatalf("%d bytes", len(got))
		}
	}
}

// TestEmptyBodies: requests without a body yield an empty, non-nil Body.
func TestEmptyBodies(t *testing.T) {
	r := authSignedGet(t, authTime, nil)
	r.Body = nil
	p, err := authVerifier(authTime).verify(r)
	if err != nil {
		t.Fatal(err)
	}
	n, err := p.Body.Read(make([]byte, 1))
	if n != 0 || err != io.EOF {
		t.Fatalf("read %d %v", n, err)
	}
}
