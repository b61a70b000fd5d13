package segstore

import (
	"context"
	"errors"
	"io"

	"ishtar/shard"
)

// fakePeer stands in for a peer that health and placement tests never
// call.
type fakePeer struct{}

func (*fakePeer) PutShard(context.Context, shard.ID, io.Reader, int64, shard.Grant) (shard.Receipt, error) {
	return shard.Receipt{}, errOffline
}

func (*fakePeer) GetShard(context.Context, shard.ID, int64, int64) (io.ReadCloser, error) {
	return nil, errOffline
}

func (*fakePeer) DeleteShard(context.Context, shard.ID, shard.Grant) error { return errOffline }

var errOffline = errors.New("fake: connection refused")
