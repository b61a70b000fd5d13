package node

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"ishtar/shard"
)

// Error is the error of the peer protocol: the JSON body of every refused
// request, and what the Client returns for one. Errors compare with
// errors.Is by Code, so a per-request copy still matches its sentinel.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"-"`
	Err     error  `json:"-"` // the underlying cause, if any (never sent)
	// RetryAfter is how soon a busy node (ErrBusy) suggests trying again:
	// the Retry-After header, whole seconds; 0 when absent.
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string { return "node: " + e.Code + ": " + e.Message }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// The protocol's error codes, with their HTTP status.
var (
	ErrBadRequest          = &Error{Code: "bad_request", Message: "malformed request", Status: http.StatusBadRequest}
	ErrUnauthenticated     = &Error{Code: "unauthenticated", Message: "request is not signed", Status: http.StatusUnauthorized}
	ErrBadSignature        = &Error{Code: "bad_signature", Message: "signature does not verify", Status: http.StatusUnauthorized}
	ErrClockSkew           = &Error{Code: "clock_skew", Message: "timestamp outside the clock window", Status: http.StatusUnauthorized}
	ErrMisdirected         = &Error{Code: "misdirected", Message: "request signed for another node", Status: http.StatusMisdirectedRequest}
	ErrReplayed            = &Error{Code: "replayed", Message: "nonce already used", Status: http.StatusUnauthorized}
	ErrForbidden           = &Error{Code: "forbidden", Message: "not permitted for this owner", Status: http.StatusForbidden}
	ErrNotFound            = &Error{Code: "not_found", Message: "not found", Status: http.StatusNotFound}
	ErrMethodNotAllowed    = &Error{Code: "method_not_allowed", Message: "method not allowed", Status: http.StatusMethodNotAllowed}
	ErrTimeout             = &Error{Code: "timeout", Message: "request body too slow", Status: http.StatusRequestTimeout}
	ErrAborted             = &Error{Code: "aborted", Message: "the caller stopped sending the body", Status: http.StatusBadRequest}
	ErrConflict            = &Error{Code: "conflict", Message: "sequence number not above the current one", Status: http.StatusConflict}
	ErrStaleGrant          = &Error{Code: "stale_grant", Message: "grant not newer than the last one accepted", Status: http.StatusConflict}
	ErrLengthRequired      = &Error{Code: "length_required", Message: "Content-Length required", Status: http.StatusLengthRequired}
	ErrTooLarge            = &Error{Code: "too_large", Message: "body too large", Status: http.StatusRequestEntityTooLarge}
	ErrRangeNotSatisfiable = &Error{Code: "range_not_satisfiable", Message: "range not satisfiable", Status: http.StatusRequestedRangeNotSatisfiable}
	ErrCorrupt             = &Error{Code: "corrupt", Message: "data does not match the shard ID", Status: http.StatusUnprocessableEntity}
	ErrInternal            = &Error{Code: "internal", Message: "internal error", Status: http.StatusInternalServerError}
	ErrBadResponse         = &Error{Code: "bad_response", Message: "peer response invalid", Status: http.StatusBadGateway}
	// ErrBusy: the node is short of something other than space (upload
	// slots, request rate, replay-window room); try again shortly, here or
	// elsewhere. It says nothing about the node's free space.
	ErrBusy = &Error{Code: "busy", Message: "too busy; try again shortly", Status: http.StatusServiceUnavailable}
	// ErrInsufficientStorage: the node is full: its committed shards leave
	// no room for this one. Never answered because of uploads in flight.
	ErrInsufficientStorage = &Error{Code: "insufficient_storage", Message: "not enough free capacity", Status: http.StatusInsufficientStorage}
	// ErrNoCredit: the node has room, but the shard's owner has used the
	// credit this node extends to it: its nodes hold too little for this
	// node's owner (see Credit). The owner should try another node, and
	// provide more storage to store more.
	ErrNoCredit = &Error{Code: "no_credit", Message: "the owner has no credit left on this node", Status: http.StatusForbidden}
)

// wrapf is errorf keeping cause for errors.Is and errors.As.
func wrapf(base *Error, cause error, format string, args ...any) *Error {
	e := errorf(base, format, args...)
	e.Err = cause
	return e
}

// errorf returns a copy of base with a specific message.
func errorf(base *Error, format string, args ...any) *Error {
	return &Error{Code: base.Code, Status: base.Status, Message: fmt.Sprintf(format, args...)}
}

// shardNotFound is ErrNotFound for one shard, formatted only if printed:
// stores answer it on hot paths (every new small shard is looked for in
// the files first).
type shardNotFound struct {
	op string
	id shard.ID
}

func (e *shardNotFound) Error() string {
	return "node: " + e.op + " shard " + e.id.String() + ": " + ErrNotFound.Error()
}

func (e *shardNotFound) Unwrap() error { return ErrNotFound }
