package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// clientTimeout bounds one S3 request of a test client, body included.
const clientTimeout = 5 * time.Minute

// S3 returns an aws-sdk-go-v2 client of the network's TLS endpoint with
// the SDK's default behaviour (CRC32 request checksums sent as aws-chunked
// trailers, response checksum validation), path-style, retries off so
// every error surfaces. opts adjust it.
func (n *Net) S3(t testing.TB, opts ...func(*s3.Options)) *s3.Client {
	t.Helper()
	tr := n.tlsSrv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	hc := &http.Client{Transport: tr, Timeout: clientTimeout}
	t.Cleanup(hc.CloseIdleConnections)
	return NewS3Client(n.Endpoint, AccessKey, SecretKey, hc, opts...)
}

// HTTPClient returns a client that trusts the TLS endpoint, for raw
// requests (presigned URLs).
func (n *Net) HTTPClient() *http.Client { return n.tlsSrv.Client() }

// NewS3Client returns an aws-sdk-go-v2 client of endpoint with static
// credentials and the SDK's default checksum behaviour, path-style, with
// retries off. hc nil means a client with a 5-minute timeout.
func NewS3Client(endpoint, accessKey, secretKey string, hc *http.Client, opts ...func(*s3.Options)) *s3.Client {
	if hc == nil {
		hc = &http.Client{Timeout: clientTimeout}
	}
	cfg := aws.Config{
		Region:                     Region,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:                 hc,
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	}}, opts...)...)
}
