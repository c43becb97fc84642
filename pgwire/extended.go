package pgwire

import (
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
)

// prepared is a statement created by Parse.
type prepared struct {
	// stmt is nil for an empty query string: Execute answers
	// EmptyQueryResponse without calling the Session.
	stmt Statement
	// paramTypes are the statement's parameter OIDs, with the client's
	// declared types filling any the Session left unspecified, and text for
	// the rest, so that clients always learn a concrete type.
	paramTypes []uint32
}

// portal is a bound statement created by Bind. Its result is produced by the
// first Execute and then handed out in slices when Execute sets a row limit.
type portal struct {
	stmt    *prepared
	params  []any
	formats []int16 // result format codes as sent in Bind, not yet expanded

	res       *Result
	cols      []Column
	colFmts   []int16 // expanded result formats for cols
	rows      [][]any // not yet sent
	suspended bool    // an Execute stopped at its row limit
	done      bool
}

func (c *conn) handleParse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, exists := c.stmts[m.Name]; exists {
			return newError(codeDuplicateStatement, nil, "prepared statement %q already exists", m.Name)
		}
	}
	declared := append([]uint32(nil), m.ParameterOIDs...)
	p := &prepared{}
	if strings.TrimSpace(m.Query) != "" {
		ctx, done := c.statementContext()
		st, err := c.sess.Prepare(ctx, m.Query, declared)
		done()
		if err != nil {
			return err
		}
		p.stmt = st
	}
	if p.stmt != nil {
		p.paramTypes = append([]uint32(nil), p.stmt.ParamTypes()...)
	}
	for i, oid := range declared {
		switch {
		case i >= len(p.paramTypes):
			p.paramTypes = append(p.paramTypes, oid)
		case p.paramTypes[i] == 0:
			p.paramTypes[i] = oid
		}
	}
	for i, oid := range p.paramTypes {
		if oid == 0 {
			// Unknown to both sides: PostgreSQL resolves such a parameter
			// to text, and so the Session receives a string.
			p.paramTypes[i] = pgtype.TextOID
		}
	}
	c.stmts[m.Name] = p
	c.send(&pgproto3.ParseComplete{})
	return nil
}

func (c *conn) handleBind(m *pgproto3.Bind) error {
	ps, ok := c.stmts[m.PreparedStatement]
	if !ok {
		return newError(codeInvalidStatementName, nil, "prepared statement %q does not exist", m.PreparedStatement)
	}
	if m.DestinationPortal != "" {
		if _, exists := c.portals[m.DestinationPortal]; exists {
			return newError(codeDuplicateCursor, nil, "portal %q already exists", m.DestinationPortal)
		}
	}
	if len(m.Parameters) != len(ps.paramTypes) {
		return newError(codeProtocolViolation, ErrProtocolViolation,
			"bind message supplies %d parameters, but prepared statement %q requires %d",
			len(m.Parameters), m.PreparedStatement, len(ps.paramTypes))
	}
	pfmts, err := expandFormats(m.ParameterFormatCodes, len(m.Parameters), "parameter")
	if err != nil {
		return err
	}
	params := make([]any, len(m.Parameters))
	for i, data := range m.Parameters {
		v, err := c.codec.decode(ps.paramTypes[i], pfmts[i], data)
		if err != nil {
			code := codeInvalidTextRep
			if pfmts[i] == BinaryFormat {
				code = codeInvalidBinaryRep
			}
			return newError(code, err, "invalid value for parameter $%d: %v", i+1, err)
		}
		params[i] = v
	}
	p := &portal{stmt: ps, params: params, formats: append([]int16(nil), m.ResultFormatCodes...)}
	if ps.stmt != nil {
		p.cols = ps.stmt.Columns()
	}
	// Check the result formats now, as PostgreSQL does, so a bad Bind fails
	// at Bind and not at Execute.
	if p.colFmts, err = expandFormats(p.formats, len(p.cols), "result"); err != nil {
		return err
	}
	c.portals[m.DestinationPortal] = p
	c.send(&pgproto3.BindComplete{})
	return nil
}

func (c *conn) handleDescribe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		ps, ok := c.stmts[m.Name]
		if !ok {
			return newError(codeInvalidStatementName, nil, "prepared statement %q does not exist", m.Name)
		}
		c.send(&pgproto3.ParameterDescription{ParameterOIDs: ps.paramTypes})
		var cols []Column
		if ps.stmt != nil {
			cols = ps.stmt.Columns()
		}
		if cols == nil {
			c.send(&pgproto3.NoData{})
		} else {
			// Formats are not known before Bind; PostgreSQL reports text.
			c.send(rowDescription(cols, nil))
		}
	case 'P':
		p, ok := c.portals[m.Name]
		if !ok {
			return newError(codeInvalidCursorName, nil, "portal %q does not exist", m.Name)
		}
		if p.cols == nil {
			c.send(&pgproto3.NoData{})
		} else {
			c.send(rowDescription(p.cols, p.colFmts))
		}
	default:
		return protocolErrorf("invalid DESCRIBE message subtype %d", m.ObjectType)
	}
	return nil
}

func (c *conn) handleExecute(m *pgproto3.Execute) error {
	p, ok := c.portals[m.Portal]
	if !ok {
		return newError(codeInvalidCursorName, nil, "portal %q does not exist", m.Portal)
	}
	if p.stmt.stmt == nil {
		c.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	if p.done {
		// A finished portal yields nothing more, as in PostgreSQL.
		c.send(&pgproto3.CommandComplete{CommandTag: []byte(portalTag(p.res.Tag, 0))})
		return nil
	}
	if p.res == nil {
		res, err := c.execute(p.stmt.stmt, p.params)
		if err != nil {
			return err
		}
		p.res = res
		switch {
		case res.CopyOut != nil:
			p.done = true
			return c.copyOut(res)
		case res.CopyIn != nil:
			p.done = true
			return c.copyIn(res)
		}
		if res.Columns != nil && len(res.Columns) == len(p.cols) {
			// The result may know more (e.g. a typmod) than the statement
			// did; the type OIDs must agree with what Describe said.
			p.cols = res.Columns
		}
		p.rows = res.Rows
	}
	n := len(p.rows)
	if m.MaxRows > 0 && int(m.MaxRows) < n {
		n = int(m.MaxRows)
	}
	if _, err := c.sendRows(p.cols, p.colFmts, p.rows[:n]); err != nil {
		return err
	}
	p.rows = p.rows[n:]
	if len(p.rows) > 0 {
		p.suspended = true
		c.send(&pgproto3.PortalSuspended{})
		return nil
	}
	p.done = true
	tag := p.res.Tag
	if p.suspended {
		tag = portalTag(tag, n)
	}
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

func (c *conn) handleClose(m *pgproto3.Close) error {
	switch m.ObjectType {
	case 'S':
		delete(c.stmts, m.Name)
	case 'P':
		delete(c.portals, m.Name)
	default:
		return protocolErrorf("invalid CLOSE message subtype %d", m.ObjectType)
	}
	// Closing something that does not exist is not an error.
	c.send(&pgproto3.CloseComplete{})
	return nil
}

// handleSync ends an extended-protocol batch: errors stop being skipped and
// the client gets ReadyForQuery. Outside a transaction block the portals die
// with the implicit transaction, as in PostgreSQL.
func (c *conn) handleSync() error {
	c.skipUntilSync = false
	if c.sess.TxStatus() == 'I' {
		clear(c.portals)
	}
	return c.readyForQuery()
}
