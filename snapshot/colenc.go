package snapshot

import (
	"bytes"
	"encoding/binary"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// colEncoder is one writer worker's column-layout state (buffers reused
// from batch to batch).
type colEncoder struct {
	keys, shapes, lsns []byte
	cols               [][]byte
	prev               []uint64 // per column: last integer value
}

// encode turns count raw row entries into the column layout, appended to
// dst. It fails (errNotColumnar) on a row it cannot parse; the caller then
// writes a ROW_BATCH. Deterministic.
func (e *colEncoder) encode(dst, raw []byte, count int) ([]byte, error) {
	e.keys, e.shapes, e.lsns = e.keys[:0], e.shapes[:0], e.lsns[:0]
	for i := range e.cols {
		e.cols[i] = e.cols[i][:0]
		e.prev[i] = 0
	}
	ncols := 0
	var prevKey []byte
	var prevLSN uint64
	off := 0
	for i := 0; i < count; i++ {
		key, n := bytesAt(raw, off)
		if n <= 0 {
			return dst, errNotColumnar
		}
		off += n
		enc, n := bytesAt(raw, off)
		if n <= 0 {
			return dst, errNotColumnar
		}
		off += n
		lsn, n := uvarintAt(raw, off)
		if n <= 0 {
			return dst, errNotColumnar
		}
		off += n

		if l := len(key); i > 0 && l >= 8 && l == len(prevKey) && bytes.Equal(key[:l-8], prevKey[:l-8]) {
			e.shapes = append(e.shapes, keyDelta)
			d := binary.BigEndian.Uint64(key[l-8:]) - binary.BigEndian.Uint64(prevKey[l-8:])
			e.keys = appendVarint(e.keys, int64(d))
		} else {
			e.shapes = append(e.shapes, keyLiteral)
			e.keys = binary.AppendUvarint(e.keys, uint64(len(key)))
			e.keys = append(e.keys, key...)
		}
		prevKey = key
		e.lsns = appendVarint(e.lsns, int64(lsn-prevLSN))
		prevLSN = lsn

		nc, k := uvarintAt(enc, 0)
		if k <= 0 || nc > engine.MaxColumns || uint64(len(enc)-k) < (nc+7)/8 {
			return dst, errNotColumnar
		}
		bm := enc[k : k+int(nc+7)/8]
		e.shapes = append(e.shapes, enc[:k+len(bm)]...)
		if int(nc) > ncols {
			ncols = int(nc)
			for len(e.cols) < ncols {
				e.cols = append(e.cols, nil)
				e.prev = append(e.prev, 0)
			}
		}
		p := k + len(bm)
		for c := 0; c < int(nc); c++ {
			if bm[c/8]&(1<<(c%8)) != 0 {
				continue
			}
			if p >= len(enc) {
				return dst, errNotColumnar
			}
			tag := enc[p]
			p++
			e.shapes = append(e.shapes, tag)
			col := e.cols[c]
			switch tag {
			case tagInt, tagDate, tagTimestamp:
				x, n := varintAt(enc, p)
				if n <= 0 {
					return dst, errNotColumnar
				}
				p += n
				col = appendVarint(col, int64(uint64(x)-e.prev[c]))
				e.prev[c] = uint64(x)
			case tagFloat, tagBool, tagUUID:
				n := fixedLen(tag)
				if len(enc)-p < n {
					return dst, errNotColumnar
				}
				col = append(col, enc[p:p+n]...)
				p += n
			case tagNumeric, tagString, tagBytes:
				_, n := bytesAt(enc, p)
				if n <= 0 {
					return dst, errNotColumnar
				}
				col = append(col, enc[p:p+n]...)
				p += n
			default:
				return dst, errNotColumnar
			}
			e.cols[c] = col
		}
		if p != len(enc) {
			return dst, errNotColumnar
		}
	}
	if off != len(raw) {
		return dst, errNotColumnar
	}
	dst = binary.AppendUvarint(dst, uint64(ncols))
	dst = binary.AppendUvarint(dst, uint64(len(e.keys)))
	dst = binary.AppendUvarint(dst, uint64(len(e.shapes)))
	dst = binary.AppendUvarint(dst, uint64(len(e.lsns)))
	for c := 0; c < ncols; c++ {
		dst = binary.AppendUvarint(dst, uint64(len(e.cols[c])))
	}
	dst = append(dst, e.keys...)
	dst = append(dst, e.shapes...)
	dst = append(dst, e.lsns...)
	for c := 0; c < ncols; c++ {
		dst = append(dst, e.cols[c]...)
	}
	return dst, nil
}
