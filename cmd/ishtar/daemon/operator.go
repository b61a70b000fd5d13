package daemon

import (
	"context"
	"errors"
	"net/url"

	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

// Operator queries (GET /v1/op/{name}, for the node's own key):
//
//	status                   Status: the owner's data by health, and the catalog backup
//	object?bucket=B&key=K    upkeep.ObjectView: one object's segments and holders
const (
	OpStatus = "status"
	OpObject = "object"
)

// operate answers the operator's queries (node.Config.Operator).
func (d *Daemon) operate(ctx context.Context, name string, q url.Values) (any, error) {
	if name != OpStatus && name != OpObject {
		return nil, &node.Error{Code: node.ErrNotFound.Code, Message: "no operator query " + name, Status: node.ErrNotFound.Status}
	}
	if d.up == nil {
		return nil, &node.Error{Code: node.ErrNotFound.Code, Message: "this node stores no data of its own (storage-only or a tracker)", Status: node.ErrNotFound.Status}
	}
	if name == OpStatus {
		return d.status(ctx)
	}
	bucket, key := q.Get("bucket"), q.Get("key")
	v, err := d.up.Object(bucket, key, d.peerAddress)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, &node.Error{Code: node.ErrNotFound.Code, Message: "no object " + bucket + "/" + key, Status: node.ErrNotFound.Status}
	}
	return v, err
}

// peerAddress is the URL a peer (or this node) is known at, or "".
func (d *Daemon) peerAddress(id shard.PublicKey) string {
	if id == d.id.Node.Public() {
		return d.nodeURL
	}
	if p, ok := d.reg.Get(id); ok {
		return p.Record.Address
	}
	return ""
}
