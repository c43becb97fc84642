package pgwire

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// handleQuery runs a simple-protocol Query: every statement in order,
// stopping at the first error, then ReadyForQuery. Whether the statements
// share an implicit transaction is the Session's business; a QueryEnder
// learns when the Query is over.
func (c *conn) handleQuery(sql string) error {
	// As in PostgreSQL, a simple Query destroys the unnamed statement and
	// portal.
	delete(c.stmts, "")
	delete(c.portals, "")
	err := c.runSimple(sql)
	if e, ok := c.sess.(QueryEnder); ok {
		ctx, done := c.statementContext()
		if eerr := e.EndQuery(ctx, err != nil); err == nil {
			err = eerr
		}
		done()
	}
	if err != nil {
		if isFatal(err) {
			return err
		}
		c.sendError(err)
	}
	return c.readyForQuery()
}

func (c *conn) runSimple(sql string) error {
	ctx, done := c.statementContext()
	stmts, err := c.sess.PrepareSimple(ctx, sql)
	done()
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		c.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	for _, st := range stmts {
		res, err := c.execute(st, nil)
		if err != nil {
			return err
		}
		switch {
		case res.CopyOut != nil:
			err = c.copyOut(res)
		case res.CopyIn != nil:
			err = c.copyIn(res)
		default:
			cols := res.Columns
			if cols == nil {
				cols = st.Columns()
			}
			if cols != nil {
				c.send(rowDescription(cols, nil))
			}
			if _, err = c.sendRows(cols, nil, res.Rows); err == nil {
				c.send(&pgproto3.CommandComplete{CommandTag: []byte(res.Tag)})
			}
		}
		if err != nil {
			return err
		}
		if err := c.flushIfBig(); err != nil {
			return err
		}
	}
	return nil
}

// execute runs st under a cancellable statement context. A nil Result from
// the Session is treated as a bare command with an empty tag.
func (c *conn) execute(st Statement, params []any) (*Result, error) {
	ctx, done := c.statementContext()
	defer done()
	res, err := st.Execute(ctx, params)
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = &Result{}
	}
	return res, nil
}

// rowDescription describes cols; formats are the already expanded result
// format codes (nil: all text).
func rowDescription(cols []Column, formats []int16) *pgproto3.RowDescription {
	fields := make([]pgproto3.FieldDescription, len(cols))
	for i, col := range cols {
		fields[i] = pgproto3.FieldDescription{
			Name:                 []byte(col.Name),
			TableOID:             col.TableOID,
			TableAttributeNumber: uint16(col.ColumnAttr),
			DataTypeOID:          col.TypeOID,
			DataTypeSize:         col.TypeSize,
			TypeModifier:         col.TypeMod,
			Format:               formatAt(formats, i),
		}
	}
	return &pgproto3.RowDescription{Fields: fields}
}

func formatAt(formats []int16, i int) int16 {
	if i < len(formats) {
		return formats[i]
	}
	return TextFormat
}

// expandFormats applies the protocol's rule for format codes: none means
// all text, one applies to all, otherwise one per column.
func expandFormats(codes []int16, n int, what string) ([]int16, error) {
	out := make([]int16, n)
	switch len(codes) {
	case 0:
	case 1:
		for i := range out {
			out[i] = codes[0]
		}
	case n:
		copy(out, codes)
	default:
		return nil, newError(codeProtocolViolation, ErrProtocolViolation,
			"bind message has %d %s formats but %d %ss", len(codes), what, n, what)
	}
	for _, f := range out {
		if f != TextFormat && f != BinaryFormat {
			return nil, newError(codeProtocolViolation, ErrBadFormatCode, "unsupported format code: %d", f)
		}
	}
	return out, nil
}

// sendRows queues one DataRow per row, flushing as output accumulates.
func (c *conn) sendRows(cols []Column, formats []int16, rows [][]any) (int, error) {
	var buf []byte
	// spans[i] locates value i in buf; start < 0 is NULL. Offsets, not
	// slices, because appending may move buf.
	type span struct{ start, end int }
	spans := make([]span, len(cols))
	values := make([][]byte, len(cols))
	for n, row := range rows {
		if len(row) != len(cols) {
			return n, newError(codeInternal, ErrBadValue, "result row has %d values for %d columns", len(row), len(cols))
		}
		buf = buf[:0]
		for i, v := range row {
			if v == nil {
				spans[i] = span{-1, -1}
				continue
			}
			start := len(buf)
			out, err := c.codec.encode(cols[i].TypeOID, formatAt(formats, i), v, buf)
			if err != nil {
				return n, newError(codeInternal, err, "column %q: %v", cols[i].Name, err)
			}
			if out == nil { // a typed NULL such as a nil *string
				spans[i] = span{-1, -1}
				continue
			}
			buf = out
			spans[i] = span{start, len(buf)}
		}
		for i, sp := range spans {
			if sp.start < 0 {
				values[i] = nil
				continue
			}
			values[i] = buf[sp.start:sp.end:sp.end]
			if values[i] == nil {
				values[i] = []byte{} // empty, not NULL
			}
		}
		// Send copies the values into the output buffer; buf is reused.
		c.send(&pgproto3.DataRow{Values: values})
		c.pending += len(buf) + 4*len(values) + 7
		if err := c.flushIfBig(); err != nil {
			return n, err
		}
	}
	return len(rows), nil
}

// copyOut streams COPY ... TO STDOUT: each Write is one CopyData.
func (c *conn) copyOut(res *Result) error {
	format := TextFormat
	if res.CopyBinary {
		format = BinaryFormat
	}
	codes := make([]uint16, res.CopyColumns)
	for i := range codes {
		codes[i] = uint16(format)
	}
	c.send(&pgproto3.CopyOutResponse{OverallFormat: byte(format), ColumnFormatCodes: codes})
	w := &copyOutWriter{c: c}
	ctx, done := c.statementContext()
	err := res.CopyOut(ctx, w)
	done()
	if w.err != nil {
		return w.err // the client is gone
	}
	if err != nil {
		return err
	}
	tag := res.Tag
	if tag == "" {
		tag = fmtTag("COPY", w.writes)
	}
	c.send(&pgproto3.CopyDone{})
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

type copyOutWriter struct {
	c      *conn
	writes int64
	err    error
}

// copyDirectMin is the CopyData size from which copyOutWriter writes the
// payload straight to the socket instead of copying it into the backend's
// send buffer: dumps write multi-megabyte batches, and the copy (plus the
// buffer growing to hold it) was a visible share of a dump's CPU.
const copyDirectMin = 64 << 10

func (w *copyOutWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(p) >= copyDirectMin {
		// Queued messages go first, then header and payload in one writev.
		if err := w.c.flush(); err != nil {
			w.err = err
			return 0, err
		}
		var hdr [5]byte
		hdr[0] = 'd'
		binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)+4))
		bufs := net.Buffers{hdr[:], p}
		if _, err := bufs.WriteTo(w.c.nc); err != nil {
			w.err = clientGone(err)
			return 0, w.err
		}
		w.writes++
		return len(p), nil
	}
	w.c.send(&pgproto3.CopyData{Data: p})
	w.writes++
	w.c.pending += len(p) + 5
	if err := w.c.flushIfBig(); err != nil {
		w.err = err
		return 0, err
	}
	return len(p), nil
}

// copyIn runs COPY ... FROM STDIN. The CopyIn function reads the client's
// CopyData payloads; whatever it leaves unread is drained up to CopyDone or
// CopyFail so the connection stays in step.
func (c *conn) copyIn(res *Result) error {
	format := TextFormat
	if res.CopyBinary {
		format = BinaryFormat
	}
	codes := make([]uint16, res.CopyColumns)
	for i := range codes {
		codes[i] = uint16(format)
	}
	c.send(&pgproto3.CopyInResponse{OverallFormat: byte(format), ColumnFormatCodes: codes})
	if err := c.flush(); err != nil {
		return err
	}
	r := &copyInReader{c: c}
	ctx, done := c.statementContext()
	tag, err := res.CopyIn(ctx, r)
	done()
	for !r.finished && r.fatalErr == nil {
		r.next()
	}
	switch {
	case r.fatalErr != nil:
		return r.fatalErr
	case err != nil:
		return err
	case r.failErr != nil:
		// The function returned success but the client aborted: the
		// client's CopyFail wins, as PostgreSQL would roll back.
		return r.failErr
	}
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

// copyInReader presents the CopyData stream as an io.Reader.
type copyInReader struct {
	c        *conn
	buf      []byte // unread part of the last CopyData (the receive buffer)
	finished bool   // CopyDone or CopyFail seen
	failErr  error  // from CopyFail
	fatalErr error  // I/O or protocol error: the connection ends
}

func (r *copyInReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		switch {
		case r.fatalErr != nil:
			return 0, r.fatalErr
		case r.failErr != nil:
			return 0, r.failErr
		case r.finished:
			return 0, io.EOF
		}
		r.next()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// next receives one message of the copy-in stream.
func (r *copyInReader) next() {
	msg, err := r.c.be.Receive()
	if err != nil {
		r.fatalErr = r.c.receiveError(err)
		return
	}
	switch m := msg.(type) {
	case *pgproto3.CopyData:
		// m.Data aliases the receive buffer and is valid until the next
		// Receive, which Read calls only once buf is used up: it is read
		// in place, not copied.
		r.buf = m.Data
	case *pgproto3.CopyDone:
		r.finished = true
	case *pgproto3.CopyFail:
		r.finished = true
		r.failErr = newError(codeQueryCanceled, nil, "COPY from stdin failed: %s", m.Message)
	case *pgproto3.Flush, *pgproto3.Sync:
		// Ignored during copy-in, as the protocol specifies.
	default:
		r.fatalErr = protocolErrorf("unexpected message type %T during COPY from stdin", msg)
	}
}

// portalTag is the CommandComplete tag for one Execute of a portal that
// was suspended before: PostgreSQL counts only the rows of this Execute.
func portalTag(tag string, rows int) string {
	if verb, _, ok := strings.Cut(tag, " "); ok && (verb == "SELECT" || verb == "FETCH") {
		return verb + " " + strconv.Itoa(rows)
	}
	return tag
}
