package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt reports a stored value that does not decode.
var ErrCorrupt = errors.New("meta: corrupt value")

// encoder appends a record; it never fails.
type encoder struct{ b []byte }

func newEncoder(version byte, sizeHint int) *encoder {
	e := &encoder{b: make([]byte, 0, 1+sizeHint)}
	e.b = append(e.b, version)
	return e
}

func (e *encoder) u8(v byte)          { e.b = append(e.b, v) }
func (e *encoder) uvarint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) fixed32(v [32]byte) { e.b = append(e.b, v[:]...) }
func (e *encoder) bytes(v []byte) {
	e.uvarint(uint64(len(v)))
	e.b = append(e.b, v...)
}

// decoder reads a record; the first error sticks and later reads return
// zero values.
type decoder struct {
	b       []byte
	version byte
	err     error
}

// newDecoder checks the version byte against the versions the caller knows.
func newDecoder(b []byte, what string, maxVersion byte) *decoder {
	d := &decoder{b: b}
	if len(b) == 0 {
		d.err = fmt.Errorf("%w: empty %s", ErrCorrupt, what)
		return d
	}
	d.version = b[0]
	d.b = b[1:]
	if d.version == 0 || d.version > maxVersion {
		d.err = fmt.Errorf("%w: %s version %d unknown", ErrCorrupt, what, d.version)
	}
	return d
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated %s", ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) u8() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail("byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) fixed32() (v [32]byte) {
	if d.err != nil || len(d.b) < 32 {
		d.fail("fixed32")
		return v
	}
	copy(v[:], d.b)
	d.b = d.b[32:]
	return v
}

// bytes returns a copy of a length-prefixed field.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("bytes")
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}

// count reads a collection length and bounds it by the bytes left, each
// element taking at least minSize bytes.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minSize) {
		d.fail("count")
		return 0
	}
	return int(n)
}
