package node

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"ishtar/shard"
)

// encodeGrant is the Ishtar-Grant header value: unpadded base64url of the
// grant's JSON.
func encodeGrant(g shard.Grant) (string, error) {
	b, err := json.Marshal(g)
	if err != nil {
		return "", fmt.Errorf("node: encode grant: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func decodeGrant(s string) (shard.Grant, error) {
	var g shard.Grant
	if len(s) > maxGrantHeader {
		return g, errorf(ErrBadRequest, "grant header of %d bytes", len(s))
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return g, errorf(ErrBadRequest, "grant header is not base64url: %v", err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return g, errorf(ErrBadRequest, "grant header is not a grant: %v", err)
	}
	return g, nil
}

// grant returns the verified owner grant of r for op on shard id.
func (s *Server) grant(r *http.Request, op shard.GrantOp, id shard.ID, now time.Time) (shard.Grant, error) {
	v := r.Header.Get(HeaderGrant)
	if v == "" {
		return shard.Grant{}, errorf(ErrUnauthenticated, "%s needs the owner's grant", op)
	}
	g, err := decodeGrant(v)
	if err != nil {
		return g, err
	}
	if err := g.Verify(); err != nil {
		return g, fromShardError(err, "grant")
	}
	if g.Op != op || g.Shard != id {
		return g, errorf(ErrForbidden, "grant is to %s shard %s, not to %s shard %s", g.Op, g.Shard, op, id)
	}
	if skew := time.Duration(now.UnixNano() - g.Time).Abs(); skew > s.cfg.ClockWindow {
		return g, errorf(ErrClockSkew, "grant time is %v from this node's clock", skew.Round(time.Second))
	}
	return g, nil
}

// checkLease checks a granted lease expiry against the lease bound.
func (s *Server) checkLease(g shard.Grant, now time.Time) error {
	if g.LeaseExpiry > now.Add(s.cfg.MaxLease).Unix() {
		return errorf(ErrBadRequest, "lease expiry beyond the maximum of %v", s.cfg.MaxLease)
	}
	if g.Op == shard.OpStore && g.LeaseExpiry <= now.Unix() {
		return errorf(ErrBadRequest, "lease expiry in the past")
	}
	return nil
}

// fromShardError maps the shard package's sentinels to protocol errors.
func fromShardError(err error, what string) error {
	switch {
	case errors.Is(err, shard.ErrBadSignature):
		return errorf(ErrBadSignature, "%s: %v", what, err)
	case errors.Is(err, shard.ErrMalformed):
		return errorf(ErrBadRequest, "%s: %v", what, err)
	}
	return err
}
