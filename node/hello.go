package node

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"

	"ishtar/shard"
)

// MaxHelloNonce bounds the nonce of a hello challenge, in bytes.
const MaxHelloNonce = 64

const helloTag = "ishtar/hello/v1\x00"

// Hello is a node's answer to a challenge at its address: its signed
// record, and its signature over the challenger's fresh nonce bound to
// that record. Whoever answers at an address with a Hello that verifies
// holds the record's key: nobody can advertise someone else's address.
type Hello struct {
	Record shard.NodeRecord `json:"record"`
	Nonce  []byte           `json:"nonce"`
	Sig    []byte           `json:"sig"`
}

// helloBytes is what Sig covers: the tag, the nonce (4-byte length,
// bytes), the record's node ID and the record's own signature, which
// binds every field of the record.
func helloBytes(rec shard.NodeRecord, nonce []byte) []byte {
	b := make([]byte, 0, len(helloTag)+4+len(nonce)+32+len(rec.Sig))
	b = append(b, helloTag...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(nonce)))
	b = append(b, nonce...)
	b = append(b, rec.Node[:]...)
	return append(b, rec.Sig...)
}

// Verify checks the record (shard.ErrMalformed, shard.ErrBadSignature)
// and that its node signed the nonce.
func (h Hello) Verify() error {
	if err := h.Record.Verify(); err != nil {
		return fmt.Errorf("node: hello: %w", err)
	}
	if !h.Record.Node.Verify(helloBytes(h.Record, h.Nonce), h.Sig) {
		return fmt.Errorf("node: hello of %s: %w", h.Record.Node, shard.ErrBadSignature)
	}
	return nil
}

// handleHello answers a challenge: GET /v1/hello?nonce=N.
func (s *Server) handleHello(w http.ResponseWriter, r *http.Request, c *call) error {
	v := r.URL.Query().Get("nonce")
	nonce, err := hex.DecodeString(v)
	if err != nil || len(nonce) == 0 || len(nonce) > MaxHelloNonce || hex.EncodeToString(nonce) != v {
		return errorf(ErrBadRequest, "nonce must be 1 to %d bytes in lowercase hex", MaxHelloNonce)
	}
	rec, err := s.Record()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Hello{Record: rec, Nonce: nonce, Sig: s.cfg.Key.Sign(helloBytes(rec, nonce))})
	return nil
}
