package decoder

import (
	"encoding/binary"

	"github.com/keywarden/keywarden/pkg/events"
)

// reader reads 32-byte ABI words from data. base is the offset of data[0] in the log's data
// (for error positions). Every read is bounds-checked; no length or offset from the data is
// used before it is checked against len(data).
type reader struct {
	data []byte
	base int
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// word returns the 32 bytes at pos.
func (r reader) word(pos int, field string) ([]byte, *Error) {
	if pos < 0 || pos > len(r.data)-32 {
		return nil, newErr(ReasonShortData, field, r.base+pos, "need 32 bytes, %d left", max(len(r.data)-pos, 0))
	}
	return r.data[pos : pos+32 : pos+32], nil
}

// small interprets w as an unsigned integer that must fit in 63 bits (offsets, lengths).
func small(w []byte) (int, bool) {
	if !isZero(w[:24]) || w[24]&0x80 != 0 {
		return 0, false
	}
	return int(binary.BigEndian.Uint64(w[24:])), true
}

// offset checks that the offset word at pos is exactly want: the canonical encoding places
// every tail right after the previous one, so any other value is a gap, an overlap or garbage.
func (r reader) offset(pos, want int, field string) *Error {
	w, err := r.word(pos, field)
	if err != nil {
		return err
	}
	if v, ok := small(w); !ok || v != want {
		return newErr(ReasonBadOffset, field, r.base+pos, "offset is not %d", want)
	}
	return nil
}

// length reads the length word at pos and checks that n elements of elemSize bytes fit in
// what follows it.
func (r reader) length(pos, elemSize int, field string) (int, *Error) {
	w, err := r.word(pos, field)
	if err != nil {
		return 0, err
	}
	left := len(r.data) - pos - 32
	n, ok := small(w)
	if !ok || n > left/elemSize {
		return 0, newErr(ReasonBadLength, field, r.base+pos, "length exceeds the %d bytes left", left)
	}
	return n, nil
}

func (r reader) address(pos int, field string) (events.Address, *Error) {
	var a events.Address
	w, err := r.word(pos, field)
	if err != nil {
		return a, err
	}
	if !isZero(w[:12]) {
		return a, newErr(ReasonBadPadding, field, r.base+pos, "address with non-zero high bytes")
	}
	copy(a[:], w[12:])
	return a, nil
}

func (r reader) boolean(pos int, field string) (bool, *Error) {
	w, err := r.word(pos, field)
	if err != nil {
		return false, err
	}
	return wordBool(w, field, r.base+pos)
}

func wordBool(w []byte, field string, off int) (bool, *Error) {
	if !isZero(w[:31]) {
		return false, newErr(ReasonBadPadding, field, off, "bool with non-zero high bytes")
	}
	switch w[31] {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, newErr(ReasonValueOutOfRange, field, off, "bool is %d", w[31])
}

// uint reads an unsigned integer of the given width (at most 64 bits).
func (r reader) uint(pos, bits int, field string) (uint64, *Error) {
	w, err := r.word(pos, field)
	if err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint64(w[24:])
	if !isZero(w[:24]) || (bits < 64 && v>>bits != 0) {
		return 0, newErr(ReasonValueOutOfRange, field, r.base+pos, "value above uint%d", bits)
	}
	return v, nil
}

func (r reader) u256(pos int, field string) (events.U256, *Error) {
	w, err := r.word(pos, field)
	if err != nil {
		return events.U256{}, err
	}
	return events.U256FromBytes(w), nil
}

func (r reader) bytes32(pos int, field string) ([32]byte, *Error) {
	var h [32]byte
	w, err := r.word(pos, field)
	if err != nil {
		return h, err
	}
	copy(h[:], w)
	return h, nil
}

// fixedBytes reads a left-aligned bytesN into dst (N = len(dst)); the rest must be zero.
func (r reader) fixedBytes(pos int, dst []byte, field string) *Error {
	w, err := r.word(pos, field)
	if err != nil {
		return err
	}
	if !isZero(w[len(dst):]) {
		return newErr(ReasonBadPadding, field, r.base+pos, "bytes%d with non-zero padding", len(dst))
	}
	copy(dst, w)
	return nil
}

// end checks that the payload ends exactly at pos.
func (r reader) end(pos int, field string) *Error {
	if len(r.data) > pos {
		return newErr(ReasonTrailingData, field, r.base+pos, "%d bytes after the payload", len(r.data)-pos)
	}
	return nil
}
