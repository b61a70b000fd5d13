package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"ishtar/node/peers"
	"ishtar/shard"
)

// Peer exchange: GET /v1/peers hands out, a page at a time, the records of
// the peers this node verified, in the order their entries changed, from
// a cursor the asker keeps; POST /v1/peers takes the caller's own record.
// Records are kept, bounded and checked by the node's peers.Registry.

// MaxPeerPage bounds the records of one GET /v1/peers answer.
const MaxPeerPage = 256

// WireRecord is a node record as peer exchange sends it: the signed
// fields of shard.NodeRecord, with Expires for readers (not signed: the
// record's Time plus 24 h).
type WireRecord struct {
	ID       shard.PublicKey `json:"id"`
	Owner    shard.PublicKey `json:"owner"`
	OwnerSig []byte          `json:"owner_sig"`
	URL      string          `json:"url"`
	Capacity int64           `json:"capacity"`
	Free     int64           `json:"free"`
	Version  string          `json:"version"`
	Seq      uint64          `json:"seq"`
	Time     int64           `json:"time"`
	Expires  string          `json:"expires"` // RFC 3339
	Sig      []byte          `json:"sig"`
}

// PeerPage is the answer to GET /v1/peers.
type PeerPage struct {
	Peers []WireRecord `json:"peers"`
	Next  uint64       `json:"next"` // the cursor to ask after next time
	More  bool         `json:"more"` // more records are ready now
}

func toWire(r shard.NodeRecord) WireRecord {
	return WireRecord{ID: r.Node, Owner: r.Owner, OwnerSig: r.OwnerSig, URL: r.Address, Capacity: r.Capacity, Free: r.Free, Version: r.Version,
		Seq: r.Seq, Time: r.Time, Expires: time.Unix(r.Time, 0).Add(peers.DefaultTTL).UTC().Format(time.RFC3339), Sig: r.Sig}
}

// Record returns the signed record w carries (not verified).
func (w WireRecord) Record() shard.NodeRecord {
	return shard.NodeRecord{Node: w.ID, Owner: w.Owner, OwnerSig: w.OwnerSig, Address: w.URL, Capacity: w.Capacity, Free: w.Free, Version: w.Version,
		Seq: w.Seq, Time: w.Time, Sig: w.Sig}
}

// handleGetPeers answers GET /v1/peers?after=N&limit=L: the verified
// records that changed after cursor N.
func (s *Server) handleGetPeers(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	after, limit := uint64(0), MaxPeerPage
	var err error
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return errorf(ErrBadRequest, "after must be a decimal cursor")
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return errorf(ErrBadRequest, "limit must be a positive number")
		}
		limit = min(limit, MaxPeerPage)
	}
	page := PeerPage{Peers: []WireRecord{}, Next: after}
	if reg := s.cfg.Registry; reg != nil {
		recs, next, more := reg.Changes(after, limit)
		for _, rec := range recs {
			page.Peers = append(page.Peers, toWire(rec))
		}
		page.Next, page.More = next, more
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// announceAnswer is the answer to POST /v1/peers.
type announceAnswer struct {
	Accepted bool   `json:"accepted"`
	Reason   string `json:"reason,omitempty"` // why not
}

// handlePostPeers takes the caller's own signed record: POST /v1/peers.
// The registry keeps it as heard of (to be challenged at its address)
// within its bounds, counted against the caller's address block.
func (s *Server) handlePostPeers(w http.ResponseWriter, r *http.Request, c *call) error {
	reg := s.cfg.Registry
	if reg == nil {
		return errorf(ErrNotFound, "this node keeps no peer records")
	}
	var rec shard.NodeRecord
	if err := json.Unmarshal(c.body, &rec); err != nil {
		return errorf(ErrBadRequest, "body is not a node record: %v", err)
	}
	if rec.Node != c.peer {
		return errorf(ErrForbidden, "a node announces its own record only, not %s's", rec.Node)
	}
	ans := announceAnswer{Accepted: true}
	var refused *peers.RefusedError
	switch err := reg.Add(rec, c.block); {
	case errors.As(err, &refused) && errors.Is(refused.Err, shard.ErrBadSignature):
		return errorf(ErrBadSignature, "record: %v", err)
	case errors.As(err, &refused) && errors.Is(refused.Err, shard.ErrMalformed):
		return errorf(ErrBadRequest, "record: %v", err)
	case errors.As(err, &refused):
		ans = announceAnswer{Reason: refused.Reason.String()}
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// RegistryView is the answer to GET /v1/registry: every entry of the
// registry with its history, and its counts (records refused by reason
// among them).
type RegistryView struct {
	Peers []peers.Peer `json:"peers"`
	Stats peers.Stats  `json:"stats"`
}

// handleRegistry answers GET /v1/registry, to the node's own key only
// (`ishtar peers`).
func (s *Server) handleRegistry(w http.ResponseWriter, r *http.Request, c *call) error {
	if c.peer != s.self {
		return errorf(ErrForbidden, "the registry is for this node's own key")
	}
	v := RegistryView{Peers: []peers.Peer{}}
	if s.cfg.Registry != nil {
		v.Peers, v.Stats = s.cfg.Registry.All(), s.cfg.Registry.Stats()
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// handleOperator answers GET /v1/op/{name}, to the node's own key only,
// with Config.Operator.
func (s *Server) handleOperator(w http.ResponseWriter, r *http.Request, c *call) error {
	if c.peer != s.self {
		return errorf(ErrForbidden, "operator queries are for this node's own key")
	}
	if s.cfg.Operator == nil {
		return errorf(ErrNotFound, "this node answers no operator queries")
	}
	v, err := s.cfg.Operator(r.Context(), mux.Vars(r)["name"], r.URL.Query())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// Operator asks the node an operator query (GET /v1/op/{name}?q) and
// decodes the answer into out; only the node's own key may.
func (c *Client) Operator(ctx context.Context, name string, q url.Values, out any) error {
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: "/v1/op/" + url.PathEscape(name), query: q}, nil, out, maxPeersAnswer); err != nil {
		return fmt.Errorf("node: %s of %s: %w", name, c.base, err)
	}
	return nil
}

// Peers asks the peer for the records of its verified peers that changed
// after cursor after: up to MaxPeerPage of them, each verified (the
// others are dropped), the cursor to ask after next, and whether more are
// ready now.
func (c *Client) Peers(ctx context.Context, after uint64) (recs []shard.NodeRecord, next uint64, more bool, err error) {
	var page PeerPage
	q := url.Values{"after": {strconv.FormatUint(after, 10)}}
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: "/v1/peers", query: q, public: true}, nil, &page, maxPeersAnswer); err != nil {
		return nil, after, false, err
	}
	if len(page.Peers) > MaxPeerPage {
		return nil, after, false, errorf(ErrBadResponse, "%d records in a page, at most %d", len(page.Peers), MaxPeerPage)
	}
	for _, w := range page.Peers {
		if rec := w.Record(); rec.Verify() == nil {
			recs = append(recs, rec)
		}
	}
	return recs, page.Next, page.More, nil
}

// Announce sends this node's own signed record; it reports whether the
// peer kept it, and why not.
func (c *Client) Announce(ctx context.Context, rec shard.NodeRecord) (accepted bool, reason string, err error) {
	var ans announceAnswer
	if err := c.doJSON(ctx, request{method: http.MethodPost, path: "/v1/peers"}, rec, &ans, maxAnswerBody); err != nil {
		return false, "", err
	}
	return ans.Accepted, ans.Reason, nil
}

// Registry asks the node for its whole registry; only its own key may
// (the Client must sign with the node's key).
func (c *Client) Registry(ctx context.Context) (RegistryView, error) {
	var v RegistryView
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: "/v1/registry"}, nil, &v, maxPeersAnswer); err != nil {
		return v, fmt.Errorf("node: registry of %s: %w", c.base, err)
	}
	return v, nil
}
