package node

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"ishtar/shard"
)

// expectContinueMin is the smallest shard upload that waits for the
// peer's go-ahead (Expect: 100-continue) before sending its body. A
// smaller body is sent at once: should the peer refuse it, the bytes
// wasted cost less than the round trip saved on every upload.
const expectContinueMin = 64 << 10

// PutShard stores size bytes of body as shard id under the owner's store
// grant, and returns the peer's verified receipt. A body of 64 KiB or more
// is sent only once the peer accepts the request (Expect: 100-continue).
func (c *Client) PutShard(ctx context.Context, id shard.ID, body io.Reader, size int64, grant shard.Grant) (shard.Receipt, error) {
	return c.putShard(ctx, id, body, size, grant, "")
}

// putShard is PutShard, as a delegated store when via names the nodes the
// shard passed through (comma-separated hex IDs).
func (c *Client) putShard(ctx context.Context, id shard.ID, body io.Reader, size int64, grant shard.Grant, via string) (shard.Receipt, error) {
	var rc shard.Receipt
	peer, err := c.PeerID(ctx)
	if err != nil {
		return rc, err
	}
	hdr, err := encodeGrant(grant)
	if err != nil {
		return rc, err
	}
	rq := request{
		method: http.MethodPost, path: "/v1/shards/" + id.String(),
		body: body, size: size, bodyHash: id, grant: hdr,
		header: http.Header{"Content-Type": {"application/octet-stream"}},
	}
	if via != "" {
		rq.query = url.Values{"via": {via}}
	}
	if size >= expectContinueMin {
		rq.header.Set("Expect", "100-continue")
	}
	if size == 0 {
		rq.body = http.NoBody
	}
	if err := c.receipt(ctx, rq, &rc); err != nil {
		return rc, err
	}
	if err := checkReceipt(rc, peer, id, size, grant); err != nil {
		return rc, err
	}
	return rc, nil
}

// VerifiesReceipts reports that PutShard and Renew return only receipts
// whose signature verified and that name the pinned peer, the shard, its
// size and the owner asked for, so callers need not verify them again.
func (c *Client) VerifiesReceipts() bool { return true }

// Renew extends the owner's lease on shard id and returns the peer's
// verified receipt.
func (c *Client) Renew(ctx context.Context, id shard.ID, grant shard.Grant) (shard.Receipt, error) {
	var rc shard.Receipt
	peer, err := c.PeerID(ctx)
	if err != nil {
		return rc, err
	}
	hdr, err := encodeGrant(grant)
	if err != nil {
		return rc, err
	}
	rq := request{method: http.MethodPost, path: "/v1/shards/" + id.String() + "/renew", grant: hdr}
	if err := c.receipt(ctx, rq, &rc); err != nil {
		return rc, err
	}
	if err := checkReceipt(rc, peer, id, grant.Size, grant); err != nil {
		return rc, err
	}
	return rc, nil
}

func (c *Client) receipt(ctx context.Context, rq request, rc *shard.Receipt) error {
	return c.doJSON(ctx, rq, nil, rc, maxAnswerBody)
}

// checkReceipt verifies a receipt's signature and that it names the
// expected node, shard, size and owner, with at least the lease granted:
// an older receipt replayed for a renewal is refused.
func checkReceipt(rc shard.Receipt, peer shard.PublicKey, id shard.ID, size int64, g shard.Grant) error {
	if err := rc.Verify(); err != nil {
		return wrapf(ErrBadResponse, err, "receipt: %v", err)
	}
	if rc.Node != peer || rc.Shard != id || rc.Size != size || rc.Owner != g.Owner {
		return errorf(ErrBadResponse, "receipt for shard %s (%d bytes, owner %s) from node %s does not match the request",
			rc.Shard, rc.Size, rc.Owner, rc.Node)
	}
	if rc.LeaseExpiry < g.LeaseExpiry {
		return errorf(ErrBadResponse, "receipt lease %d shorter than granted %d", rc.LeaseExpiry, g.LeaseExpiry)
	}
	return nil
}

// DeleteShard releases the owner's holding of shard id.
func (c *Client) DeleteShard(ctx context.Context, id shard.ID, grant shard.Grant) error {
	hdr, err := encodeGrant(grant)
	if err != nil {
		return err
	}
	return c.doJSON(ctx, request{method: http.MethodDelete, path: "/v1/shards/" + id.String(), grant: hdr}, nil, nil, 0)
}

// GetShard reads n bytes of shard id from offset off (n < 0: to the end).
// The bytes are not verified: check them against the ID. Close the reader;
// it yields io.ErrUnexpectedEOF if the peer sends less than announced.
func (c *Client) GetShard(ctx context.Context, id shard.ID, off, n int64) (io.ReadCloser, error) {
	if off < 0 {
		panic(fmt.Sprintf("node: GetShard at negative offset %d", off))
	}
	if n == 0 {
		return io.NopCloser(&io.LimitedReader{}), nil
	}
	rq := request{method: http.MethodGet, path: "/v1/shards/" + id.String()}
	ranged := off > 0 || n > 0
	if ranged {
		r := fmt.Sprintf("bytes=%d-", off)
		if n > 0 {
			r += strconv.FormatInt(off+n-1, 10)
		}
		rq.header = http.Header{"Range": {r}}
	}
	resp, err := c.do(ctx, rq)
	if err != nil {
		return nil, err
	}
	want, err := bodyLength(resp, ranged, off, n)
	if err != nil {
		drainClose(resp.Body)
		return nil, err
	}
	return &shardBody{body: resp.Body, left: want}, nil
}

// bodyLength checks a shard answer's status and range, and returns how
// many bytes it must carry.
func bodyLength(resp *http.Response, ranged bool, off, n int64) (int64, error) {
	cl := resp.ContentLength
	if !ranged {
		if resp.StatusCode != http.StatusOK || cl < 0 {
			return 0, errorf(ErrBadResponse, "shard answer %s with length %d", resp.Status, cl)
		}
		return cl, nil
	}
	if resp.StatusCode != http.StatusPartialContent {
		return 0, errorf(ErrBadResponse, "range answered with %s", resp.Status)
	}
	var first, last, total int64
	_, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &total)
	switch {
	case err != nil:
		return 0, errorf(ErrBadResponse, "bad Content-Range %q", resp.Header.Get("Content-Range"))
	case first != off || last < first || last >= total || (n > 0 && last-first+1 > n) ||
		(n > 0 && last-first+1 < n && last != total-1) || (n < 0 && last != total-1) ||
		(cl >= 0 && cl != last-first+1):
		return 0, errorf(ErrBadResponse, "Content-Range %q, length %d for bytes %d+%d",
			resp.Header.Get("Content-Range"), cl, off, n)
	}
	return last - first + 1, nil
}

// shardBody yields exactly left bytes or an error.
type shardBody struct {
	body io.ReadCloser
	left int64
}

func (b *shardBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && b.left == 0 {
		err = io.EOF
	}
	return n, err
}

func (b *shardBody) Close() error {
	drainClose(b.body)
	return nil
}

// Proof challenges the peer to prove it holds leaf of shard id, with a
// fresh nonce of the caller's choosing, and returns the verified answer.
// The caller still checks Size and LeafSize against its own record.
func (c *Client) Proof(ctx context.Context, id shard.ID, leaf uint64, nonce []byte) (Audit, error) {
	var a Audit
	if len(nonce) == 0 || len(nonce) > MaxAuditNonce {
		panic(fmt.Sprintf("node: audit nonce of %d bytes", len(nonce)))
	}
	peer, err := c.PeerID(ctx)
	if err != nil {
		return a, err
	}
	q := url.Values{"leaf": {strconv.FormatUint(leaf, 10)}, "nonce": {hex.EncodeToString(nonce)}}
	rq := request{method: http.MethodGet, path: "/v1/shards/" + id.String() + "/proof", query: q}
	if err := c.doJSON(ctx, rq, nil, &a, maxAnswerBody); err != nil {
		return a, err
	}
	if err := a.Verify(); err != nil {
		return a, wrapf(ErrBadResponse, err, "audit answer: %v", err)
	}
	if a.Node != peer || !a.answers(id, leaf, nonce) {
		return a, errorf(ErrBadResponse, "audit answer from %s for shard %s leaf %d does not answer the challenge", a.Node, a.Shard, a.Leaf)
	}
	return a, nil
}
