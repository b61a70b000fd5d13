package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// handlePutShard stores a shard: POST /v1/shards/{id}.
func (s *Server) handlePutShard(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if c.bodyHash != id {
		return errorf(ErrBadRequest, "the body hash of a shard upload must be its ID")
	}
	now := s.cfg.Now()
	g, err := s.grant(r, shard.OpStore, id, now)
	if err != nil {
		return err
	}
	size := r.ContentLength
	switch {
	case size < 0:
		return ErrLengthRequired
	case size != g.Size:
		return errorf(ErrForbidden, "grant covers %d bytes, body has %d", g.Size, size)
	case size == 0:
		return errorf(ErrBadRequest, "empty shard")
	case size > s.cfg.MaxShardSize:
		return errorf(ErrTooLarge, "shard of %d bytes, at most %d", size, s.cfg.MaxShardSize)
	}
	if err := s.checkLease(g, now); err != nil {
		return err
	}
	via, err := s.parseVia(r)
	if err != nil {
		return err
	}
	if size >= expectContinueMin {
		// Refuse a stale grant before a large body is sent. A smaller one
		// comes without waiting for the go-ahead, so this would save
		// nothing: the commit batch checks the grant either way.
		if last, err := s.db.LastGrant(id, g.Owner); err != nil {
			return err
		} else if g.Time <= last {
			return ErrStaleGrant
		}
	}
	up, err := s.admitUpload(g.Owner, c.peer, c.block, size, false)
	if errors.Is(err, ErrInsufficientStorage) && s.canDelegate(via) {
		return s.delegateShard(w, r, c, g, via, now, err)
	}
	if err != nil {
		return err
	}
	defer up.done()
	start := time.Now()
	_ = c.rc.SetWriteDeadline(s.transferDeadline(size))

	ctx := r.Context()
	wr, err := s.st.Create(ctx, id, size)
	if err != nil {
		return err
	}
	defer wr.Cancel(ctx)
	if err := s.receiveBody(wr, r.Body, up, c.rc, start); err != nil {
		return err
	}
	hd, err := s.commitShard(ctx, wr, g, c.block, now)
	if err != nil {
		return err
	}
	if err := s.settleCredit(g.Owner); err != nil {
		s.log.WarnContext(ctx, "settling an owner's credit", "err", err) // the next refresh does
	}
	writeJSON(w, http.StatusOK, s.receipt(id, size, hd, now))
	return nil
}

// receiveBody copies exactly up.size bytes of body into wr. It reserves
// capacity a step ahead of what has arrived, and moves the read deadline
// with it: the body may take RequestTimeout to get going, and must then
// keep up MinRate on average, so a caller that trickles a body in is cut
// (ErrTimeout) and never holds more than one step of capacity.
func (s *Server) receiveBody(wr io.Writer, body io.Reader, up *upload, rc *http.ResponseController, start time.Time) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	size := up.size
	deadline := func() {
		_ = rc.SetReadDeadline(start.Add(s.cfg.RequestTimeout + time.Duration(up.reserved*int64(time.Second)/s.cfg.MinRate)))
	}
	deadline()
	var n int64
	for n < size {
		if n == up.reserved {
			if err := up.reserveNext(); err != nil {
				return err
			}
			deadline()
		}
		m, rerr := body.Read(buf[:min(int64(len(buf)), up.reserved-n)])
		if m > 0 {
			if _, err := wr.Write(buf[:m]); err != nil {
				return err
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return bodyError(rerr, n, size)
		}
	}
	if n != size {
		return errorf(ErrBadRequest, "body ended after %d of %d bytes", n, size)
	}
	return nil
}

// bodyError classifies a failed read of a shard body: too slow, or the
// caller went away.
func bodyError(err error, n, size int64) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return wrapf(ErrTimeout, err, "body too slow: %d of %d bytes arrived in time", n, size)
	}
	return wrapf(ErrAborted, err, "body ended after %d of %d bytes: %v", n, size, err)
}

// commitShard makes the written shard visible and indexes the owner's
// holding, in one meta batch, under the shard's lock. A writer that can
// commit inside that batch (an inline shard) does so: bytes, index and
// counters land together, with one fsync.
func (s *Server) commitShard(ctx context.Context, wr Writer, g shard.Grant, block string, now time.Time) (meta.Holding, error) {
	id := g.Shard
	mu := s.lock(id)
	mu.Lock()
	defer mu.Unlock()
	bw, joined := wr.(batchWriter)
	joined = joined && bw.catalog() == s.db
	if !joined {
		if err := wr.Commit(ctx); err != nil {
			return meta.Holding{}, err
		}
	}
	var hd meta.Holding
	created := false
	err := s.db.Update(func(b *meta.Batch) error {
		rec, err := b.HeldShard(id)
		switch {
		case errors.Is(err, meta.ErrNotFound):
			created = true
			rec = meta.HeldShard{ID: id, Size: g.Size, StoredAt: now.UnixNano()}
		case err != nil:
			return err
		}
		if last, err := b.LastGrant(id, g.Owner); err != nil {
			return err
		} else if g.Time <= last {
			return ErrStaleGrant
		}
		rec.Location = meta.LocationFile
		if joined {
			if err := bw.commitIn(b); err != nil {
				return err
			}
			rec.Location = meta.LocationInline
		}
		old, had := rec.Holding(g.Owner)
		hd = meta.Holding{Owner: g.Owner, LeaseExpiry: max(old.LeaseExpiry, g.LeaseExpiry), StoredAt: now.UnixNano()}
		if had {
			hd.StoredAt = old.StoredAt
		} else if err := addHolding(b, g.Owner, g.Size); err != nil {
			return err
		}
		rec.SetHolding(hd)
		if err := b.PutHeldShard(rec); err != nil {
			return err
		}
		if s.enforced(g.Owner) {
			if err := b.SetOwnerBlock(g.Owner, block); err != nil {
				return err
			}
		}
		if created {
			if _, err := b.AddCounter(meta.CounterUsedBytes, g.Size); err != nil {
				return err
			}
		}
		return b.SetLastGrant(id, g.Owner, g.Time)
	})
	if err != nil && created && !joined {
		// Nothing in the index refers to the bytes just committed.
		if derr := s.st.Delete(ctx, id); derr != nil {
			s.log.ErrorContext(ctx, "cannot remove unindexed shard", "shard", id.String(), "err", derr)
		}
	}
	return hd, err
}

func (s *Server) receipt(id shard.ID, size int64, hd meta.Holding, now time.Time) shard.Receipt {
	rc := shard.Receipt{
		Shard:       id,
		Size:        size,
		Owner:       hd.Owner,
		Holder:      s.self,
		LeaseExpiry: hd.LeaseExpiry,
		Time:        now.UnixNano(),
	}
	rc.Sign(s.cfg.Key)
	return rc
}

// delegatedShard is what openHeld answers for a shard another node holds
// for this one (see delegate.go).
type delegatedShard struct {
	size int64
	d    meta.Delegation
}

func (e *delegatedShard) Error() string { return "node: shard delegated to " + e.d.Address }

// openHeld opens a shard this node holds; a shard it delegated is a
// *delegatedShard error.
func (s *Server) openHeld(ctx context.Context, id shard.ID) (Reader, error) {
	if s.inline != nil {
		// Inline bytes land and go in the same batch as the shard's index
		// entry (commitShard, ownerOp), so finding them proves the shard
		// is held, and one catalog read serves a small shard.
		if b, err := s.db.InlineShard(id); err == nil {
			return memReader{bytes.NewReader(b)}, nil
		} else if !errors.Is(err, meta.ErrNotFound) {
			return nil, fmt.Errorf("node: open shard %s: %w", id, err)
		}
	}
	if rec, err := s.db.HeldShard(id); errors.Is(err, meta.ErrNotFound) {
		return nil, errorf(ErrNotFound, "shard %s not held", id)
	} else if err != nil {
		return nil, err
	} else if rec.Location == meta.LocationDelegated {
		d, err := s.db.Delegation(id)
		if err != nil {
			return nil, fmt.Errorf("node: delegation of shard %s: %w", id, err)
		}
		return nil, &delegatedShard{size: rec.Size, d: d}
	}
	rd, err := s.st.Open(ctx, id)
	if errors.Is(err, ErrNotFound) {
		s.log.ErrorContext(ctx, "indexed shard missing from the store", "shard", id.String())
	}
	return rd, err
}

// handleGetShard serves a shard or a byte range of it: GET /v1/shards/{id}.
func (s *Server) handleGetShard(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	rd, err := s.openHeld(r.Context(), id)
	var dl *delegatedShard
	if errors.As(err, &dl) {
		return s.proxyGet(w, r, c, id, dl.size, dl.d)
	}
	if err != nil {
		return err
	}
	defer rd.Close()
	size := rd.Size()
	off, n, partial, err := parseRange(r.Header.Get("Range"), size)
	if err != nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		return err
	}
	if _, err := rd.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("node: seek shard %s: %w", id, err)
	}
	_ = c.rc.SetReadDeadline(s.transferDeadline(n))
	_ = c.rc.SetWriteDeadline(s.transferDeadline(n))
	writeShardHeader(w, id, off, n, size, partial)
	var src io.Reader = rd
	var dst io.Writer = w
	if f, ok := rd.(*fileReader); ok {
		src = f.File // lets the kernel send the file (sendfile)
	} else {
		// Bytes in memory (an inline shard) go through the response's
		// buffer, with the header, in one write rather than two.
		dst = struct{ io.Writer }{w}
	}
	if _, err := io.Copy(dst, io.LimitReader(src, n)); err != nil {
		return fmt.Errorf("node: send shard %s: %w", id, err)
	}
	return nil
}

// writeShardHeader answers the header of n bytes of shard id (of size
// bytes) from off: 200, or 206 for a range.
func writeShardHeader(w http.ResponseWriter, id shard.ID, off, n, size int64, partial bool) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", `"`+id.String()+`"`)
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, size))
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
}

// handleProof answers an audit: GET /v1/shards/{id}/proof?leaf=I&nonce=N.
func (s *Server) handleProof(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	leaf, err := strconv.ParseUint(q.Get("leaf"), 10, 64)
	if err != nil {
		return errorf(ErrBadRequest, "leaf must be a decimal block index")
	}
	nonce, err := parseAuditNonce(q.Get("nonce"))
	if err != nil {
		return err
	}
	rd, err := s.openHeld(r.Context(), id)
	var dl *delegatedShard
	if errors.As(err, &dl) {
		a, err := s.proxyProof(r.Context(), id, leaf, nonce, dl.d)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, a)
		return nil
	}
	if err != nil {
		return err
	}
	defer rd.Close()
	proof, data, err := shard.BuildProof(rd, rd.Size(), s.cfg.LeafSize, leaf)
	if errors.Is(err, shard.ErrMalformed) {
		return errorf(ErrBadRequest, "leaf %d out of range", leaf)
	}
	if err != nil {
		return fmt.Errorf("node: prove shard %s: %w", id, err)
	}
	a := Audit{
		Shard: id, Size: rd.Size(), LeafSize: s.cfg.LeafSize, Leaf: leaf, Nonce: nonce,
		Data: data, Proof: proof, Time: s.cfg.Now().UnixNano(),
	}
	a.Sign(s.cfg.Key)
	writeJSON(w, http.StatusOK, a)
	return nil
}
