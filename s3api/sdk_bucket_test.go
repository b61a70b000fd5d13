package s3api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestSDKBuckets(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	c := e.c

	// restic calls GetBucketLocation first and expects NoSuchBucket.
	_, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("photos")})
	wantS3Code(t, err, "NoSuchBucket")
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("photos")})
	wantHTTPStatus(t, err, http.StatusNotFound)

	before := time.Now().Add(-time.Second)
	for _, b := range []string{"photos", "backups", "a.b-c"} {
		e.bucket(t, b)
	}
	// rclone sends x-amz-acl: private.
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("with-acl"), ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("public"), ACL: types.BucketCannedACLPublicRead})
	wantS3Code(t, err, "NotImplemented")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("photos")})
	if err != nil {
		t.Fatalf("create own bucket again in us-east-1: %v", err)
	}
	for _, bad := range []string{"ab", "Bad_Bucket", "10.0.0.1", "a..b", strings.Repeat("x", 64)} {
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bad)})
		wantS3Code(t, err, "InvalidBucketName")
	}

	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("photos")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("location %q %v, want empty for us-east-1", loc.LocationConstraint, err)
	}

	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, aws.ToString(b.Name))
		if b.CreationDate == nil || b.CreationDate.Before(before) || b.CreationDate.After(time.Now().Add(time.Second)) {
			t.Errorf("bucket %s created %v", aws.ToString(b.Name), b.CreationDate)
		}
	}
	if got := strings.Join(names, ","); got != "a.b-c,backups,photos,with-acl" {
		t.Fatalf("buckets %s", got)
	}
	if lb.Owner == nil || aws.ToString(lb.Owner.ID) != opsAccessKey {
		t.Errorf("owner %+v", lb.Owner)
	}
	// The SDK paginator with a small page size walks every bucket once.
	names = nil
	p := s3.NewListBucketsPaginator(c, &s3.ListBucketsInput{MaxBuckets: aws.Int32(3)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 3 {
			t.Fatal("ListBuckets paginator does not end")
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range out.Buckets {
			names = append(names, aws.ToString(b.Name))
		}
	}
	if got := strings.Join(names, ","); got != "a.b-c,backups,photos,with-acl" {
		t.Fatalf("paginated buckets %s", got)
	}
	pre, err := c.ListBuckets(ctx, &s3.ListBucketsInput{Prefix: aws.String("ph")})
	if err != nil || len(pre.Buckets) != 1 || aws.ToString(pre.Buckets[0].Name) != "photos" {
		t.Fatalf("prefix listing %+v %v", pre, err)
	}

	// A bucket with an object, then with only an upload, is not empty.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("x"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")})
	wantS3Code(t, err, "BucketNotEmpty")
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("photos"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")})
	wantS3Code(t, err, "BucketNotEmpty")
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("photos"), Key: aws.String("big"), UploadId: up.UploadId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")})
	wantS3Code(t, err, "NoSuchBucket")
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("photos")})
	wantS3Code(t, err, "NoSuchBucket")
}

func TestSDKBucketLocationConstraint(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{cfg: Config{Region: "eu-west-1"}})
	ctx := t.Context()
	_, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("located"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1},
	})
	if err != nil {
		t.Fatal(err)
	}
	loc, err := e.c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("located")})
	if err != nil || loc.LocationConstraint != types.BucketLocationConstraintEuWest1 {
		t.Fatalf("location %q %v", loc.LocationConstraint, err)
	}
	_, err = e.c.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("elsewhere"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintApSouth1},
	})
	wantS3Code(t, err, "InvalidLocationConstraint")
	// A malformed configuration document is MalformedXML.
	resp := e.raw(t, http.MethodPut, "/broken", []byte("<CreateBucketConfiguration><LocationConstraint>"), nil)
	if resp.StatusCode != http.StatusBadRequest || opsErrorCode(t, resp) != "MalformedXML" {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if e.mem.HeadBucket(ctx, "broken") == nil {
		t.Fatal("bucket created from a malformed document")
	}
}

// TestRawBucketRequests covers what real clients send that the SDK does not.
func TestRawBucketRequests(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	// restic: PUT /bucket/ with a trailing slash; s3cmd: GET /bucket/.
	resp := e.raw(t, http.MethodPut, "/restic-repo/", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /bucket/: %d", resp.StatusCode)
	}
	if e.mem.HeadBucket(t.Context(), "restic-repo") != nil {
		t.Fatal("bucket not created")
	}
	e.mem.put("restic-repo", "config", []byte("c"))
	resp = e.raw(t, http.MethodGet, "/restic-repo/", nil, nil)
	body := string(opsReadAll(t, resp.Body))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<Key>config</Key>") ||
		!strings.Contains(body, "<Prefix></Prefix>") || !strings.Contains(body, "<Marker></Marker>") ||
		!strings.Contains(body, `xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`) {
		t.Fatalf("GET /bucket/: %d %s", resp.StatusCode, body)
	}
	// s3cmd: x-amz-storage-class STANDARD is accepted, other classes are not.
	resp = e.raw(t, http.MethodPut, "/restic-repo/obj", []byte("data"), http.Header{"X-Amz-Storage-Class": {"STANDARD"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT with STANDARD: %d", resp.StatusCode)
	}
	resp = e.raw(t, http.MethodGet, "/restic-repo/obj", nil, nil)
	if b := opsReadAll(t, resp.Body); string(b) != "data" || resp.Header.Get("Content-Type") != "binary/octet-stream" {
		t.Fatalf("GET without a stored type: %q %q", b, resp.Header.Get("Content-Type"))
	}
	resp = e.raw(t, http.MethodPut, "/restic-repo/obj2", []byte("data"), http.Header{"X-Amz-Storage-Class": {"GLACIER"}})
	if code := opsErrorCode(t, resp); code != "InvalidStorageClass" {
		t.Fatalf("PUT with GLACIER: %s", code)
	}
	// Unknown methods and unsupported subresources.
	resp = e.raw(t, "PATCH", "/restic-repo/obj", nil, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || opsErrorCode(t, resp) != "MethodNotAllowed" {
		t.Fatalf("PATCH: %d", resp.StatusCode)
	}
	resp = e.raw(t, http.MethodPut, "/", nil, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PUT /: %d", resp.StatusCode)
	}
	for _, q := range []string{"acl", "policy", "versioning", "tagging", "lifecycle", "cors", "website",
		"versions", "object-lock", "replication", "encryption", "notification", "logging", "unknown-thing"} {
		for _, path := range []string{"/restic-repo?" + q, "/restic-repo/obj?" + q} {
			for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
				resp := e.raw(t, m, path, nil, nil)
				if resp.StatusCode != http.StatusNotImplemented || opsErrorCode(t, resp) != "NotImplemented" {
					t.Fatalf("%s %s: %d", m, path, resp.StatusCode)
				}
			}
		}
	}
	resp = e.raw(t, http.MethodPost, "/restic-repo", nil, nil) // browser-form POST upload
	if resp.StatusCode != http.StatusNotImplemented || opsErrorCode(t, resp) != "NotImplemented" {
		t.Fatalf("POST /bucket: %d", resp.StatusCode)
	}
	if !e.mem.has("restic-repo", "obj") {
		t.Fatal("unsupported subresource requests changed the object")
	}
	// HEAD errors carry the status and request ID but no body.
	resp = e.raw(t, http.MethodHead, "/restic-repo/missing", nil, nil)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Amz-Request-Id") == "" || resp.Header.Get("X-Amz-Id-2") == "" {
		t.Fatalf("HEAD missing: %d %v", resp.StatusCode, resp.Header)
	}
	if b := opsReadAll(t, resp.Body); len(b) != 0 {
		t.Fatalf("HEAD error with a body %q", b)
	}
	// Unauthenticated requests are refused before anything else.
	anon, err := e.srv.Client().Get(e.srv.URL + "/restic-repo/obj?acl")
	if err != nil {
		t.Fatal(err)
	}
	if anon.StatusCode != http.StatusForbidden || opsErrorCode(t, anon) != "AccessDenied" {
		t.Fatalf("anonymous: %d", anon.StatusCode)
	}
	anon.Body.Close()
}
