package sql

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/heliosdb/heliosdb-lite/pgwire"
)

// Binary COPY format (PostgreSQL's "COPY BINARY", what pgx's CopyFrom
// sends): an 11-byte signature, a 32-bit flags word, a 32-bit header
// extension length and that many bytes; then per tuple a 16-bit field count
// (-1 ends the data) and per field a 32-bit length (-1 is NULL) followed by
// the value in the type's binary send format. Integers are big-endian.

// copySignature starts every binary COPY stream.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

const codeInvalidBinary = "22P03"

// maxCopyHeaderExt bounds the header extension a client may declare.
const maxCopyHeaderExt = 1 << 20

func badBinaryCopy(format string, args ...any) *Error {
	return errorf(codeBadCopyFile, format, args...)
}

// readBinaryCopyRows parses a whole binary COPY stream of ncols columns;
// nil fields are NULL. Field memory grows with the bytes actually sent,
// never with a declared length.
func readBinaryCopyRows(r io.Reader, ncols int) ([][][]byte, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	sig := make([]byte, len(copySignature))
	if _, err := io.ReadFull(br, sig); err != nil || !bytes.Equal(sig, copySignature) {
		return nil, badBinaryCopy("COPY file signature not recognized")
	}
	var hdr [8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, badBinaryCopy("invalid COPY file header (missing flags)")
	}
	flags, ext := binary.BigEndian.Uint32(hdr[:4]), binary.BigEndian.Uint32(hdr[4:])
	if flags&(1<<16) != 0 {
		return nil, badBinaryCopy("invalid COPY file header (WITH OIDS)")
	}
	if flags>>16 != 0 {
		return nil, badBinaryCopy("unrecognized critical flags in COPY file header")
	}
	if ext > maxCopyHeaderExt {
		return nil, badBinaryCopy("invalid COPY file header (extension length %d)", ext)
	}
	if _, err := io.CopyN(io.Discard, br, int64(ext)); err != nil {
		return nil, badBinaryCopy("invalid COPY file header (wrong length)")
	}
	var rows [][][]byte
	for {
		var cnt [2]byte
		if _, err := io.ReadFull(br, cnt[:]); err != nil {
			if errors.Is(err, io.EOF) {
				// PostgreSQL accepts a stream that ends without the trailer.
				return rows, nil
			}
			return nil, badBinaryCopy("unexpected EOF in COPY data")
		}
		n := int16(binary.BigEndian.Uint16(cnt[:]))
		if n == -1 {
			return rows, nil
		}
		if int(n) != ncols {
			return nil, badBinaryCopy("row field count is %d, expected %d", n, ncols).withDetail(lineDetail(len(rows) + 1))
		}
		row := make([][]byte, ncols)
		for i := range row {
			var lb [4]byte
			if _, err := io.ReadFull(br, lb[:]); err != nil {
				return nil, badBinaryCopy("unexpected EOF in COPY data").withDetail(lineDetail(len(rows) + 1))
			}
			l := int32(binary.BigEndian.Uint32(lb[:]))
			if l == -1 {
				continue
			}
			if l < 0 {
				return nil, badBinaryCopy("invalid field size").withDetail(lineDetail(len(rows) + 1))
			}
			var fb bytes.Buffer
			if m, err := io.CopyN(&fb, br, int64(l)); err != nil || m != int64(l) {
				return nil, badBinaryCopy("unexpected EOF in COPY data").withDetail(lineDetail(len(rows) + 1))
			}
			row[i] = fb.Bytes()
			if row[i] == nil {
				row[i] = []byte{}
			}
		}
		rows = append(rows, row)
	}
}

func lineDetail(n int) string { return "row " + itoa(n) }

func itoa(n int) string { return formatValue(int64(n)) }

// fromBinary decodes one binary COPY field as a value of column type t.
func fromBinary(data []byte, t typ, now time.Time) (any, error) {
	if t.k == kInterval {
		if len(data) != 16 {
			return nil, errorf(codeInvalidBinary, "incorrect binary data format for interval")
		}
		return interval{
			us:     int64(binary.BigEndian.Uint64(data[:8])),
			days:   int64(int32(binary.BigEndian.Uint32(data[8:12]))),
			months: int64(int32(binary.BigEndian.Uint32(data[12:]))),
		}, nil
	}
	if t.k == kArray {
		return nil, unsupported("binary COPY of array columns")
	}
	v, err := pgwire.DecodeParam(t.oid(), pgwire.BinaryFormat, data)
	if err != nil {
		return nil, errorf(codeInvalidBinary, "incorrect binary data format for type %s", t)
	}
	return fromParam(v, t, now)
}

// writeBinaryCopy writes rows (internal values of cols' types) in the
// binary COPY format, header, tuples and trailer, one Write per tuple.
func writeBinaryCopy(w io.Writer, cols []colInfo, rows [][]any) error {
	var buf []byte
	buf = append(buf, copySignature...)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	if _, err := w.Write(buf); err != nil {
		return err
	}
	for _, r := range rows {
		buf = binary.BigEndian.AppendUint16(buf[:0], uint16(len(r)))
		for i, v := range r {
			if v == nil {
				buf = binary.BigEndian.AppendUint32(buf, 0xffffffff)
				continue
			}
			if iv, ok := v.(interval); ok {
				buf = binary.BigEndian.AppendUint32(buf, 16)
				buf = binary.BigEndian.AppendUint64(buf, uint64(iv.us))
				buf = binary.BigEndian.AppendUint32(buf, uint32(int32(iv.days)))
				buf = binary.BigEndian.AppendUint32(buf, uint32(int32(iv.months)))
				continue
			}
			at := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			out, err := pgwire.EncodeValue(cols[i].t.oid(), pgwire.BinaryFormat, toWire(v, cols[i].t), buf)
			if err != nil {
				return errorf(codeInvalidBinary, "cannot send column %q in binary: %v", cols[i].name, err)
			}
			buf = out
			binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	_, err := w.Write([]byte{0xff, 0xff})
	return err
}
