package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"

	"ishtar/meta"
	"ishtar/node"
	"ishtar/s3api"
)

// Errors a Peer reports so the gateway can tell outcomes apart. A Peer
// may return them or wrap them; node.Client's errors are recognised as
// well (see isShardNotFound and isPeerFull).
var (
	// ErrShardNotFound: the node does not hold the shard. A delete of a
	// shard not found counts as done.
	ErrShardNotFound = errors.New("gateway: shard not found on the peer")
	// ErrPeerFull: the node refused a shard for lack of space; the shard
	// goes to another peer, and shards that large go elsewhere a while
	// (see peerHealth).
	ErrPeerFull = errors.New("gateway: peer has no room for the shard")
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
	// errUnavailable: fewer than K good shards of a segment could be read.
	errUnavailable = errors.New("gateway: too few shards available")
	// errTooFewPeers: fewer than MinAcks peers stored a segment's shards.
	errTooFewPeers = errors.New("gateway: too few peers stored the shards")
	errBadReceipt  = errors.New("gateway: bad receipt")
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
	case errors.Is(err, errQuota):
		return s3api.ErrQuotaExceeded.WithResource(object)
	case errors.Is(err, errUnavailable):
		return s3api.ErrServiceUnavailable.WithMessage(
			"Too few storage peers answered with good data to read this object; try again later.").WithResource(object)
	case errors.Is(err, errTooFewPeers):
		return s3api.ErrSlowDown.WithMessage(
			"Too few storage peers accepted the data; try again later.").WithResource(object)
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

// isShardNotFound reports whether a peer said it does not hold a shard.
func isShardNotFound(err error) bool {
	return errors.Is(err, ErrShardNotFound) || errors.Is(err, node.ErrNotFound)
}

// isNotHeldForOwner reports whether a node refused a delete because it
// holds nothing for this owner under that grant: retrying cannot help.
func isNotHeldForOwner(err error) bool { return errors.Is(err, node.ErrForbidden) }

// isPeerFull reports whether a peer refused a shard for lack of space.
func isPeerFull(err error) bool {
	return errors.Is(err, ErrPeerFull) || errors.Is(err, node.ErrInsufficientStorage)
}

// isBusy reports whether a peer refused a request for now (see classify).
func isBusy(err error) bool {
	v, _ := classify(err)
	return v == verdictBusy
}

// canceled reports whether err is (only) the end of the caller's context.
func canceled(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
