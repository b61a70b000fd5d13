package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"

	"ishtar/gateway/segstore"
	"ishtar/meta"
	"ishtar/s3api"
)

// Internal conditions, mapped to S3 errors by s3Error alone.
var (
	errNoSuchBucket   = errors.New("gateway: no such bucket")
	errBucketExists   = errors.New("gateway: bucket exists")
	errBucketNotEmpty = errors.New("gateway: bucket not empty")
	errNoSuchKey      = errors.New("gateway: no such key")
	errNoSuchUpload   = errors.New("gateway: no such upload")
	errIncompleteBody = errors.New("gateway: body shorter or longer than its declared size")
	errQuota          = errors.New("gateway: the network would hold more than the capacity offered")
	errInlineCorrupt  = errors.New("gateway: inline object fails authentication")
	errTooLarge       = errors.New("gateway: body larger than the largest object")
)

// s3Error translates an internal error into what the S3 client sees. It is
// the one place where that happens: every Backend method passes its error
// through it. *s3api.Error values (from Body, Check or CompleteParts) go
// through unchanged; anything unknown is returned as is and becomes
// InternalError in the handler.
func s3Error(err error, bucket, key string) error {
	if err == nil {
		return nil
	}
	var se *s3api.Error
	if errors.As(err, &se) {
		return se
	}
	object := "/" + bucket + "/" + key
	switch {
	case errors.Is(err, errNoSuchBucket):
		return s3api.ErrNoSuchBucket.WithResource(bucket)
	case errors.Is(err, errBucketExists):
		return s3api.ErrBucketAlreadyOwnedByYou.WithResource(bucket)
	case errors.Is(err, errBucketNotEmpty):
		return s3api.ErrBucketNotEmpty.WithResource(bucket)
	case errors.Is(err, errNoSuchKey):
		return s3api.ErrNoSuchKey.WithResource(object)
	case errors.Is(err, errNoSuchUpload):
		return s3api.ErrNoSuchUpload.WithResource(object)
	case errors.Is(err, errIncompleteBody):
		return s3api.ErrIncompleteBody.WithResource(object)
	case errors.Is(err, errTooLarge):
		return s3api.ErrEntityTooLarge.WithResource(object)
	case errors.Is(err, errQuota):
		return s3api.ErrQuotaExceeded.WithResource(object)
	case errors.Is(err, segstore.ErrUnavailable):
		return s3api.ErrServiceUnavailable.WithMessage(
			"Too few storage peers answered with good data to read this object; try again later.").WithResource(object)
	case errors.Is(err, segstore.ErrTooFewPeers) && segstore.NoCredit(err):
		return s3api.ErrQuotaExceeded.WithMessage(
			"The storage network refused the data: its peers extend you no more credit, since your node holds too little for them. " +
				"Offer more storage (a larger --capacity, and keep your node online so that peers place data on it) to store more.").WithResource(object)
	case errors.Is(err, segstore.ErrTooFewPeers):
		return s3api.ErrSlowDown.WithMessage(
			"Too few storage peers accepted the data; try again later.").WithResource(object)
	case errors.Is(err, errInlineCorrupt):
		return s3api.ErrInternalError.WithMessage(
			"The object's content in the gateway's catalog is damaged and fails authentication.").WithResource(object)
	case errors.Is(err, meta.ErrNotFound):
		// A catalog record vanished under a request (a concurrent delete).
		if key == "" {
			return s3api.ErrNoSuchBucket.WithResource(bucket)
		}
		return s3api.ErrNoSuchKey.WithResource(object)
	}
	return err
}

// bodyError classifies a failed read of an upload body: an *s3api.Error
// (an integrity check) stays, a body that ends early is IncompleteBody,
// anything else (the client went away) is kept with context.
func bodyError(err error) error {
	var se *s3api.Error
	switch {
	case errors.As(err, &se):
		return err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %w", errIncompleteBody, err)
	}
	return fmt.Errorf("gateway: read body: %w", err)
}

// canceled reports whether err is (only) the end of the caller's context.
func canceled(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
