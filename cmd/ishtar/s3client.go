package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"ishtar/s3api"
)

// s3Client is the small S3 client of the file commands: path-style
// requests signed with SigV4 (UNSIGNED-PAYLOAD bodies, streamed).
type s3Client struct {
	base   *url.URL
	signer *s3api.Signer
	hc     *http.Client
}

func newS3Client(endpoint string, creds s3Credentials, region string) (*s3Client, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q is not an http(s)://host:port URL", endpoint)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 10 * time.Minute // a large PUT is answered once stored
	return &s3Client{
		base:   u,
		signer: &s3api.Signer{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, Region: region},
		hc:     &http.Client{Transport: t},
	}, nil
}

// s3Error is an S3 error answer.
type s3Error struct {
	Status  int
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func (e *s3Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + strings.TrimSuffix(e.Message, ".")
}

// s3req is one request.
type s3req struct {
	method, bucket, key string
	query               url.Values
	header              http.Header
	body                io.Reader // nil: none
	size                int64
}

// do sends rq and returns a 2xx answer; others become *s3Error.
func (c *s3Client) do(ctx context.Context, rq s3req) (*http.Response, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + "/" + rq.bucket
	if rq.key != "" {
		u.Path += "/" + rq.key
	}
	u.RawPath = ""
	u.RawQuery = rq.query.Encode()
	body := rq.body
	if body == nil || rq.size == 0 {
		body, rq.size = http.NoBody, 0 // a zero length with a body would go chunked
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.URL.Path, req.URL.RawPath = u.Path, "" // the decoded path; Sign encodes it
	req.ContentLength = rq.size
	for k, v := range rq.header {
		req.Header[k] = v
	}
	if err := c.signer.Sign(req, s3api.UnsignedPayload); err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer drainClose(resp.Body)
	e := &s3Error{Status: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if xml.Unmarshal(b, e) != nil || e.Code == "" {
		e.Code, e.Message = strconv.Itoa(resp.StatusCode), http.StatusText(resp.StatusCode)
	}
	return nil, e
}

func drainClose(rc io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, rc, 256<<10)
	_ = rc.Close()
}

// doXML sends rq and decodes the XML answer into out.
func (c *s3Client) doXML(ctx context.Context, rq s3req, out any) error {
	resp, err := c.do(ctx, rq)
	if err != nil {
		return err
	}
	defer drainClose(resp.Body)
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if err := xml.Unmarshal(b, out); err != nil {
		return fmt.Errorf("malformed answer to %s: %w", rq.method, err)
	}
	// CompleteMultipartUpload may fail after a 200: the body is an Error.
	if bytes.Contains(b[:min(len(b), 512)], []byte("<Error>")) {
		e := &s3Error{Status: resp.StatusCode}
		if xml.Unmarshal(b, e) == nil && e.Code != "" {
			return e
		}
	}
	return nil
}

// ensureBucket creates bucket unless it exists.
func (c *s3Client) ensureBucket(ctx context.Context, bucket string) error {
	resp, err := c.do(ctx, s3req{method: http.MethodHead, bucket: bucket})
	if err == nil {
		drainClose(resp.Body)
		return nil
	}
	var se *s3Error
	if !errors.As(err, &se) || se.Status != http.StatusNotFound {
		return err
	}
	resp, err = c.do(ctx, s3req{method: http.MethodPut, bucket: bucket})
	if err != nil {
		if errors.As(err, &se) && se.Code == "BucketAlreadyOwnedByYou" {
			return nil
		}
		return err
	}
	drainClose(resp.Body)
	return nil
}

// putObject stores size bytes of body as one object; it returns the ETag.
func (c *s3Client) putObject(ctx context.Context, bucket, key string, body io.Reader, size int64) (string, error) {
	resp, err := c.do(ctx, s3req{method: http.MethodPut, bucket: bucket, key: key, body: body, size: size,
		header: http.Header{"Content-Type": {"application/octet-stream"}}})
	if err != nil {
		return "", err
	}
	drainClose(resp.Body)
	return strings.Trim(resp.Header.Get("ETag"), `"`), nil
}

func (c *s3Client) createMultipart(ctx context.Context, bucket, key string) (string, error) {
	var out struct {
		UploadID string `xml:"UploadId"`
	}
	err := c.doXML(ctx, s3req{method: http.MethodPost, bucket: bucket, key: key, query: url.Values{"uploads": {""}},
		header: http.Header{"Content-Type": {"application/octet-stream"}}}, &out)
	if err == nil && out.UploadID == "" {
		err = errors.New("no upload ID in the answer")
	}
	return out.UploadID, err
}

func (c *s3Client) uploadPart(ctx context.Context, bucket, key, uploadID string, n int, body io.Reader, size int64) (string, error) {
	q := url.Values{"partNumber": {strconv.Itoa(n)}, "uploadId": {uploadID}}
	resp, err := c.do(ctx, s3req{method: http.MethodPut, bucket: bucket, key: key, query: q, body: body, size: size})
	if err != nil {
		return "", err
	}
	drainClose(resp.Body)
	return strings.Trim(resp.Header.Get("ETag"), `"`), nil
}

type completedPart struct {
	PartNumber int    `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
}

func (c *s3Client) completeMultipart(ctx context.Context, bucket, key, uploadID string, parts []completedPart) (string, error) {
	doc, err := xml.Marshal(struct {
		XMLName xml.Name        `xml:"CompleteMultipartUpload"`
		Parts   []completedPart `xml:"Part"`
	}{Parts: parts})
	if err != nil {
		return "", err
	}
	var out struct {
		ETag string `xml:"ETag"`
	}
	err = c.doXML(ctx, s3req{method: http.MethodPost, bucket: bucket, key: key, query: url.Values{"uploadId": {uploadID}},
		body: bytes.NewReader(doc), size: int64(len(doc)), header: http.Header{"Content-Type": {"application/xml"}}}, &out)
	return strings.Trim(out.ETag, `"`), err
}

func (c *s3Client) abortMultipart(ctx context.Context, bucket, key, uploadID string) error {
	resp, err := c.do(ctx, s3req{method: http.MethodDelete, bucket: bucket, key: key, query: url.Values{"uploadId": {uploadID}}})
	if err != nil {
		return err
	}
	drainClose(resp.Body)
	return nil
}

// getObject returns the object's answer; close its body.
func (c *s3Client) getObject(ctx context.Context, bucket, key string) (*http.Response, error) {
	return c.do(ctx, s3req{method: http.MethodGet, bucket: bucket, key: key})
}

// objectEntry is one listed object.
type objectEntry struct {
	Key          string    `xml:"Key"`
	LastModified time.Time `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Size         int64     `xml:"Size"`
}

// listObjects calls fn for every object under prefix, in key order.
func (c *s3Client) listObjects(ctx context.Context, bucket, prefix string, fn func(objectEntry) error) error {
	token := ""
	for {
		q := url.Values{"list-type": {"2"}, "max-keys": {"1000"}}
		if prefix != "" {
			q.Set("prefix", prefix)
		}
		if token != "" {
			q.Set("continuation-token", token)
		}
		var page struct {
			Contents    []objectEntry `xml:"Contents"`
			IsTruncated bool          `xml:"IsTruncated"`
			NextToken   string        `xml:"NextContinuationToken"`
		}
		if err := c.doXML(ctx, s3req{method: http.MethodGet, bucket: bucket, query: q}, &page); err != nil {
			return err
		}
		for _, o := range page.Contents {
			if err := fn(o); err != nil {
				return err
			}
		}
		if !page.IsTruncated {
			return nil
		}
		if page.NextToken == "" || page.NextToken == token {
			return errors.New("listing truncated without a new continuation token")
		}
		token = page.NextToken
	}
}
