package s3api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestSigV4DocExamples checks the worked examples of the S3 API reference:
// the canonical request and string to sign where the docs give them, and
// that verify accepts the documented signature and yields the body.
func TestSigV4DocExamples(t *testing.T) {
	cases := []struct {
		name string
		body string
	}{
		{"get-object", ""},
		{"put-object", "Welcome to Amazon S3."},
		{"get-bucket-lifecycle", ""},
		{"list-objects", ""},
		{"presigned-get", ""},
		{"chunked-upload", strings.Repeat("a", 66560)},
		{"chunked-upload-trailer", strings.Repeat("a", 66560)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := filepath.Join("testdata", "sigv4", "s3", c.name)
			r := readReqFile(t, base+".req")
			if creq, err := os.ReadFile(base + ".creq"); err == nil {
				s, err := authVerifier(vecTime).fromHeader(r, r.Header.Get("Authorization"))
				if err != nil {
					t.Fatal(err)
				}
				query, _ := parseQuery(r.URL.RawQuery)
				got := canonicalRequests(r, query, s)[0].String()
				if got != string(creq) {
					t.Fatalf("canonical request:\n%s\nwant:\n%s", got, creq)
				}
				sts, err := os.ReadFile(base + ".sts")
				if err != nil {
					t.Fatal(err)
				}
				if got := stringToSign(s.amzDate, s.scope, got); got != string(sts) {
					t.Fatalf("string to sign:\n%s\nwant:\n%s", got, sts)
				}
			}
			p, err := authVerifier(vecTime).verify(r)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if p.AccessKey != vecAccessKey {
				t.Errorf("access key = %q", p.AccessKey)
			}
			body, err := drainPayload(p)
			if err != nil {
				t.Fatalf("body: %v", err)
			}
			if string(body) != c.body {
				t.Fatalf("body = %d bytes, want %d", len(body), len(c.body))
			}
			if p.Size != int64(len(c.body)) && !(p.Size == 0 && c.body == "") {
				t.Errorf("size = %d, want %d", p.Size, len(c.body))
			}
		})
	}
}

// TestSigV4DocTrailerChecksum checks that the documented trailing
// checksum is the one reported.
func TestSigV4DocTrailerChecksum(t *testing.T) {
	r := readReqFile(t, filepath.Join("testdata", "sigv4", "s3", "chunked-upload-trailer.req"))
	p, err := authVerifier(vecTime).verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, p.Body); err != nil {
		t.Fatal(err)
	}
	if a, v := p.checksum(); a != "CRC32C" || v != "sOO8/Q==" {
		t.Fatalf("checksum = %s %s", a, v)
	}
}

// TestSigV4DocExamplesTampered flips one byte of each documented request
// (signature, a signed header, the body) and expects a refusal.
func TestSigV4DocExamplesTampered(t *testing.T) {
	for _, name := range []string{"get-object", "put-object", "list-objects", "presigned-get", "chunked-upload", "chunked-upload-trailer"} {
		data, err := os.ReadFile(filepath.Join("testdata", "sigv4", "s3", name+".req"))
		if err != nil {
			t.Fatal(err)
		}
		head, body, _ := bytes.Cut(data, []byte("\n\n"))
		// Signature: the last hex digit of the first "Signature=".
		i := bytes.Index(head, []byte("Signature="))
		if i < 0 {
			t.Fatal("no signature")
		}
		sigEnd := i + len("Signature=") + 63
		mutated := append([]byte(nil), data...)
		mutated[sigEnd] = authFlipHex(mutated[sigEnd])
		if _, err := authVerifier(vecTime).verify(parseReqText(t, mutated)); err == nil {
			t.Errorf("%s: accepted with a changed signature", name)
		} else {
			wantAuthCode(t, err, "SignatureDoesNotMatch")
		}
		// A signed header value: the host.
		mutated = bytes.Replace(data, []byte("amazonaws.com"), []byte("amazonaws.con"), 1)
		_, err = authVerifier(vecTime).verify(parseReqText(t, mutated))
		wantAuthCode(t, err, "SignatureDoesNotMatch")
		if len(body) == 0 {
			continue
		}
		// The last data byte ('a' or '.').
		mutated = append([]byte(nil), data...)
		k := len(head) + 2 + bytes.LastIndexAny(body, "a.")
		mutated[k] ^= 1
		p, err := authVerifier(vecTime).verify(parseReqText(t, mutated))
		if err != nil {
			t.Fatalf("%s: verify before body: %v", name, err)
		}
		if _, err := io.ReadAll(p.Body); err == nil {
			t.Errorf("%s: body with a changed byte read to EOF", name)
		}
	}
}

func authFlipHex(c byte) byte {
	if c == '0' {
		return '1'
	}
	return '0'
}

// TestSigV4Suite runs the AWS SigV4 test-suite cases (service "service",
// so below verify's S3-only checks): the documented signature must be one
// we compute.
func TestSigV4Suite(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "sigv4", "suite", "*.req"))
	if err != nil || len(files) < 15 {
		t.Fatalf("suite files: %v, %d", err, len(files))
	}
	secret := "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".req"), func(t *testing.T) {
			r := readReqFile(t, f)
			body, err := io.ReadAll(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			query, err := parseQuery(r.URL.RawQuery)
			if err != nil {
				t.Fatal(err)
			}
			s := &sigV4Request{payloadHash: hexSHA256(body)}
			if authz := r.Header.Get("Authorization"); authz != "" {
				a, err := parseAuthorization(authz)
				if err != nil {
					t.Fatal(err)
				}
				s.scope, s.signedHeaders, s.signature = a.scope, a.signedHeaders, a.signature
				s.amzDate = r.Header.Get("X-Amz-Date")
			} else {
				pp, err := parsePresign(query)
				if err != nil {
					t.Fatal(err)
				}
				s.scope, s.signedHeaders, s.signature = pp.scope, pp.signedHeaders, pp.signature
				s.amzDate, s.presigned = pp.amzDate, true
			}
			if s.scope.service != "service" || s.amzDate != "20150830T123600Z" {
				t.Fatalf("scope %+v date %s", s.scope, s.amzDate)
			}
			key := deriveSigningKey(secret, s.scope.date, s.scope.region, s.scope.service)
			if !signatureMatches(r, query, s, key) {
				for _, c := range canonicalRequests(r, query, s) {
					t.Logf("candidate:\n%s", c.String())
				}
				t.Fatal("documented signature not reproduced")
			}
			s.signature[0] ^= 1
			if signatureMatches(r, query, s, key) {
				t.Fatal("a changed signature matched")
			}
		})
	}
}

// TestDeriveSigningKey checks the key-derivation example of the AWS
// General Reference.
func TestDeriveSigningKey(t *testing.T) {
	k := deriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
	if got, want := hex.EncodeToString(k), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"; got != want {
		t.Fatalf("signing key = %s, want %s", got, want)
	}
}

func TestSigningKeyCache(t *testing.T) {
	var c signingKeyCache
	s := credentialScope{date: "20250314", region: "us-east-1", service: "s3"}
	want := deriveSigningKey("secret", s.date, s.region, s.service)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				sc := s
				if j%2 == 1 {
					sc.region = "eu-west-" + string(rune('0'+i))
				}
				got := c.get("secret", sc)
				if j%2 == 0 && !bytes.Equal(got, want) {
					t.Error("cached key differs from derived key")
					return
				}
			}
		}()
	}
	wg.Wait()
	// The cache is bounded.
	for i := range signingKeyCacheMax + 10 {
		c.get("secret", credentialScope{date: "20250314", region: strings.Repeat("r", i+1), service: "s3"})
	}
	if n := len(c.m); n > signingKeyCacheMax {
		t.Fatalf("cache holds %d keys", n)
	}
}

func TestURIEncode(t *testing.T) {
	cases := []struct {
		in    string
		slash bool
		want  string
	}{
		{"a b", false, "a%20b"},
		{"a+b", false, "a%2Bb"},
		{"100%", false, "100%25"},
		{"ключ", false, "%D0%BA%D0%BB%D1%8E%D1%87"},
		{"a/b", false, "a/b"},
		{"a/b", true, "a%2Fb"},
		{"A-z_0.9~", true, "A-z_0.9~"},
		{"=&?#!$'()*,;:@", true, "%3D%26%3F%23%21%24%27%28%29%2A%2C%3B%3A%40"},
		{"../x", false, "../x"},
		{"", true, ""},
	}
	for _, c := range cases {
		if got := uriEncode(c.in, c.slash); got != c.want {
			t.Errorf("uriEncode(%q, %v) = %q, want %q", c.in, c.slash, got, c.want)
		}
	}
}

func TestCanonicalQueryString(t *testing.T) {
	cases := []struct{ raw, skip, want string }{
		{"", "", ""},
		{"uploads", "", "uploads="},
		{"b=2&a=x+y&a=%2B&c=", "", "a=%2B&a=x%20y&b=2&c="},
		{"prefix=a%2Fb&delimiter=%2F&list-type=2", "", "delimiter=%2F&list-type=2&prefix=a%2Fb"},
		{"k=a;b", "", "k=a%3Bb"},
		{"X-Amz-Signature=abc&X-Amz-Date=1", "X-Amz-Signature", "X-Amz-Date=1"},
		{"%E1%88%B4=bar&&", "", "%E1%88%B4=bar"},
		{"Z=1&a=1", "", "Z=1&a=1"},
	}
	for _, c := range cases {
		ps, err := parseQuery(c.raw)
		if err != nil {
			t.Fatalf("parseQuery(%q): %v", c.raw, err)
		}
		if got := canonicalQueryString(ps, c.skip); got != c.want {
			t.Errorf("canonicalQueryString(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
	if _, err := parseQuery("a=%zz"); err == nil {
		t.Error("bad escape accepted")
	}
}

func TestCanonicalHeaderValue(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"  a   b  "}, "a b"},
		{[]string{"\ta\t\tb"}, "a b"},
		{[]string{"value2", "value2", "value1"}, "value2,value2,value1"},
		{[]string{" x ", " y  z"}, "x,y z"},
		{[]string{`"a   b   c"`}, `"a b c"`},
		{[]string{""}, ""},
	}
	for _, c := range cases {
		if got := canonicalHeaderValue(c.in); got != c.want {
			t.Errorf("canonicalHeaderValue(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	good := []string{
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-date,Signature=" + sig,
		"  AWS4-HMAC-SHA256   Credential=AKID/20250314/us-east-1/s3/aws4_request ,  SignedHeaders=host;x-amz-date ,Signature=" + sig + "  ",
		"AWS4-HMAC-SHA256 Signature=" + sig + ", Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date",
	}
	for _, v := range good {
		a, err := parseAuthorization(v)
		if err != nil {
			t.Errorf("parseAuthorization(%q): %v", v, err)
			continue
		}
		if a.scope != (credentialScope{"AKID", "20250314", "us-east-1", "s3"}) || len(a.signedHeaders) != 2 || hex.EncodeToString(a.signature) != sig {
			t.Errorf("parseAuthorization(%q) = %+v", v, a)
		}
	}
	bad := []string{
		"",
		"AWS AKID:c2ln",
		"AWS4-HMAC-SHA256",
		"AWS4-ECDSA-P256-SHA256 Credential=AKID/20250314/s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=host",
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig + ", Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_requests, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/2025031/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20251314/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=/20250314/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250314//s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date;host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=Host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=host;;x, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig[:62],
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("zz", 32),
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig + ", Foo=bar",
		"AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request SignedHeaders=host Signature=" + sig,
	}
	for _, v := range bad {
		if a, err := parseAuthorization(v); err == nil {
			t.Errorf("parseAuthorization(%q) = %+v, want error", v, a)
		}
	}
	// The access key is everything before the last four scope fields.
	a, err := parseAuthorization("AWS4-HMAC-SHA256 Credential=a/b/20250314/r/s3/aws4_request, SignedHeaders=host, Signature=" + sig)
	if err != nil || a.scope.accessKey != "a/b" {
		t.Fatalf("access key with '/': %+v %v", a, err)
	}
}

func TestCanonicalURIs(t *testing.T) {
	cases := []struct {
		path string
		want []string
	}{
		{"/", []string{"/"}},
		{"/bucket/a%20b", []string{"/bucket/a%20b"}},
		{"/bucket/a+b", []string{"/bucket/a+b", "/bucket/a%2Bb"}},
		{"/bucket/a%2Fb", []string{"/bucket/a%2Fb", "/bucket/a/b"}},
		{"/bucket/x!$'()*", []string{"/bucket/x!$'()*", "/bucket/x%21%24%27%28%29%2A"}},
		{"/bucket/../etc", []string{"/bucket/../etc"}},
		{"/bucket/%e1%88%b4", []string{"/bucket/%e1%88%b4", "/bucket/%E1%88%B4"}},
	}
	for _, c := range cases {
		r := parseReqText(t, []byte("GET "+c.path+"?x=1 HTTP/1.1\nHost: h\n\n"))
		got := canonicalURIs(r)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("canonicalURIs(%q) = %q, want %q", c.path, got, c.want)
		}
	}
}

// BenchmarkVerifyHeader measures header authentication of a GET (no body).
func BenchmarkVerifyHeader(b *testing.B) {
	r := readReqFile(b, filepath.Join("testdata", "sigv4", "s3", "get-object.req"))
	v := authVerifier(vecTime)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.verify(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPutHash measures a PUT whose body is checked against
// x-amz-content-sha256 and Content-MD5, 1 MiB per op.
func BenchmarkVerifyPutHash(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	sum := sha256.Sum256(body)
	v := authVerifier(authTime)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	buf := make([]byte, 256<<10)
	r := authSignedPut(b, body, hex.EncodeToString(sum[:]), map[string]string{"Content-MD5": contentMD5(body)})
	for b.Loop() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		p, err := v.verify(r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{p.Body}, buf); err != nil {
			b.Fatal(err)
		}
	}
}
