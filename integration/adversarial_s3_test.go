package integration

import (
	"encoding/xml"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestAdversarialUnsignedHeaders plays whoever holds a presigned upload URL
// or sees a signed request, against a devnet process over real sockets:
// x-amz-* headers added outside the signature are refused with 403
// AccessDenied and change nothing, while the same headers signed work.
func TestAdversarialUnsignedHeaders(t *testing.T) {
	d := startDevnet(t)
	c := NewS3Client(d.Endpoint, d.AccessKey, d.SecretKey, nil)
	hc := &http.Client{Timeout: clientTimeout}
	t.Cleanup(hc.CloseIdleConnections)
	bucket := createBucket(t, c, "adversarial")
	secret := randBytes(200*KiB, 8301)
	putObject(t, c, bucket, "secret", secret)
	body := randBytes(50*KiB, 8302)

	// The owner hands out a presigned PUT URL for "upload".
	put, err := s3.NewPresignClient(c).PresignPutObject(t.Context(),
		&s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("upload")}, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	withCopy := put.SignedHeader.Clone()
	withCopy.Set("X-Amz-Copy-Source", bucket+"/secret")

	// Its holder adds an unsigned x-amz-copy-source: refused, nothing made.
	wantNotSigned(t, do(t, hc, put.Method, put.URL, withCopy, body), "x-amz-copy-source")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("upload")})
	wantStatus(t, err, http.StatusNotFound)

	// The URL as signed uploads; the copy attempt then leaves it as it is.
	if resp := do(t, hc, put.Method, put.URL, put.SignedHeader, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT as signed: %s", resp.Status)
	}
	wantNotSigned(t, do(t, hc, put.Method, put.URL, withCopy, body), "x-amz-copy-source")
	got, _ := getObject(t, c, bucket, "upload", "")
	sameBytes(t, "upload after the refused copy", got, body)

	// A presigned URL that signs x-amz-copy-source copies.
	u, hdr := presignCopy(t, d.AccessKey, d.SecretKey, d.Region, d.Endpoint+"/"+bucket+"/copy", bucket+"/secret")
	if resp := do(t, hc, http.MethodPut, u, hdr, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned copy with x-amz-copy-source signed: %s", resp.Status)
	}
	got, _ = getObject(t, c, bucket, "copy", "")
	sameBytes(t, "signed copy", got, secret)

	testUnsignedMeta(t, d, hc, bucket, body)
}

// testUnsignedMeta: a header-signed PUT with an unsigned x-amz-meta-* is
// refused and stores nothing; with it signed, the metadata is stored.
func testUnsignedMeta(t *testing.T, d *devnetRun, hc *http.Client, bucket string, body []byte) {
	url := d.Endpoint + "/" + bucket + "/meta"
	signed := func(hdr http.Header) http.Header {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = hdr
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		req.ContentLength = int64(len(body))
		creds := aws.Credentials{AccessKeyID: d.AccessKey, SecretAccessKey: d.SecretKey}
		if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, "UNSIGNED-PAYLOAD", "s3", d.Region, time.Now()); err != nil {
			t.Fatal(err)
		}
		return req.Header
	}
	c := NewS3Client(d.Endpoint, d.AccessKey, d.SecretKey, hc)

	hdr := signed(http.Header{})
	hdr.Set("X-Amz-Meta-Color", "red")
	wantNotSigned(t, do(t, hc, http.MethodPut, url, hdr, body), "x-amz-meta-color")
	_, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("meta")})
	wantStatus(t, err, http.StatusNotFound)

	hdr = signed(http.Header{"X-Amz-Meta-Color": {"blue"}})
	if resp := do(t, hc, http.MethodPut, url, hdr, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT with x-amz-meta-color signed: %s", resp.Status)
	}
	got, out := getObject(t, c, bucket, "meta", "")
	sameBytes(t, "meta", got, body)
	if len(out.Metadata) != 1 || out.Metadata["color"] != "blue" {
		t.Fatalf("metadata %v, want color=blue", out.Metadata)
	}
}

// presignCopy presigns a PUT to url whose x-amz-copy-source is signed, and
// returns the URL and the headers to send.
func presignCopy(t *testing.T, accessKey, secretKey, region, url, source string) (string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, url+"?X-Amz-Expires=600", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Copy-Source", source)
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	u, hdr, err := v4.NewSigner().PresignHTTP(t.Context(), creds, req, "UNSIGNED-PAYLOAD", "s3", region, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Get("X-Amz-Copy-Source") != source {
		t.Fatalf("the presigner did not sign x-amz-copy-source: %v", hdr)
	}
	return u, hdr
}

// wantNotSigned checks resp is S3's 403 AccessDenied for unsigned headers,
// naming names.
func wantNotSigned(t *testing.T, resp *http.Response, names string) {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Code             string
		Message          string
		HeadersNotSigned string
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("status %s, body %q: %v", resp.Status, b, err)
	}
	if resp.StatusCode != http.StatusForbidden || doc.Code != "AccessDenied" || doc.HeadersNotSigned != names {
		t.Fatalf("status %s, %s %q naming %q; want 403 AccessDenied naming %q", resp.Status, doc.Code, doc.Message, doc.HeadersNotSigned, names)
	}
}
