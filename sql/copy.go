package sql

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/heliosdb/heliosdb-lite/pgwire"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// copyOpts are the parsed options of a COPY statement.
type copyOpts struct {
	csv    bool
	binary bool
	delim  byte
	null   string
	header bool
	quote  byte
	escape byte
	raw    map[string]string
}

func defElemString(n *pg.Node) string {
	if n == nil {
		return "true"
	}
	switch v := n.Node.(type) {
	case *pg.Node_String_:
		return v.String_.Sval
	case *pg.Node_Integer:
		return strconv.Itoa(int(v.Integer.Ival))
	case *pg.Node_Float:
		return v.Float.Fval
	case *pg.Node_Boolean:
		return strconv.FormatBool(v.Boolean.Boolval)
	case *pg.Node_AConst:
		return setArgText([]*pg.Node{n})
	case *pg.Node_List:
		return strings.Join(strList(v.List.Items), ",")
	case *pg.Node_AStar:
		return "*"
	}
	return ""
}

func parseCopyOpts(opts []*pg.Node) (*copyOpts, error) {
	o := &copyOpts{delim: '\t', null: `\N`, quote: '"', escape: '"', raw: map[string]string{}}
	explicitNull, explicitDelim := false, false
	for _, n := range opts {
		d := n.GetDefElem()
		if d == nil {
			continue
		}
		val := defElemString(d.Arg)
		o.raw[strings.ToLower(d.Defname)] = val
		switch strings.ToLower(d.Defname) {
		case "format":
			switch strings.ToLower(val) {
			case "csv":
				o.csv = true
			case "text":
			case "binary":
				o.binary = true
			default:
				return nil, errorf(codeInvalidParam, "COPY format %q not recognized", val)
			}
		case "delimiter":
			if len(val) != 1 {
				return nil, errorf(codeFeature, "COPY delimiter must be a single one-byte character")
			}
			o.delim, explicitDelim = val[0], true
		case "null":
			o.null, explicitNull = val, true
		case "header":
			o.header = val != "false" && val != "0" && val != "off"
		case "quote":
			if len(val) == 1 {
				o.quote = val[0]
			}
		case "escape":
			if len(val) == 1 {
				o.escape = val[0]
			}
		case "freeze", "encoding", "force_quote", "force_not_null", "force_null", "oids":
		default:
			return nil, errorf(codeSyntax, "option %q not recognized", d.Defname)
		}
	}
	if o.csv {
		if !explicitDelim {
			o.delim = ','
		}
		if !explicitNull {
			o.null = ""
		}
	}
	return o, nil
}

func (s *Session) copyStmt(ctx context.Context, cs *pg.CopyStmt) (*pgwire.Result, error) {
	if cs.Filename != "" || cs.IsProgram {
		return nil, &Error{Code: "42501", Msg: "COPY to or from a file is not allowed", Hnt: "Use COPY ... FROM STDIN / TO STDOUT, or psql's \\copy."}
	}
	if cs.Relation != nil && cs.Relation.Schemaname == "heliosdb" {
		return s.copySpecial(cs)
	}
	opts, err := parseCopyOpts(cs.Options)
	if err != nil {
		return nil, err
	}
	if cs.IsFrom {
		return s.copyFrom(ctx, cs, opts)
	}
	return s.copyTo(ctx, cs, opts)
}

func (s *Session) copySpecial(cs *pg.CopyStmt) (*pgwire.Result, error) {
	name := cs.Relation.Relname
	tgt, ok := s.db.cfg.CopyTargets[name]
	if !ok {
		return nil, errorf(codeUndefinedTable, "relation \"heliosdb.%s\" does not exist", name)
	}
	opts := map[string]string{}
	for _, n := range cs.Options {
		if d := n.GetDefElem(); d != nil {
			opts[strings.ToLower(d.Defname)] = defElemString(d.Arg)
		}
	}
	if cs.IsFrom {
		if tgt.In == nil {
			return nil, unsupported("COPY heliosdb." + name + " FROM")
		}
		return &pgwire.Result{CopyIn: func(ctx context.Context, r io.Reader) (string, error) { return tgt.In(ctx, opts, r) }}, nil
	}
	if tgt.Out == nil {
		return nil, unsupported("COPY heliosdb." + name + " TO")
	}
	return &pgwire.Result{CopyOut: func(ctx context.Context, w io.Writer) error { return tgt.Out(ctx, opts, w) }, CopyColumns: 1}, nil
}

func (s *Session) copyFrom(ctx context.Context, cs *pg.CopyStmt, opts *copyOpts) (*pgwire.Result, error) {
	state, err := s.readState(ctx, "local")
	if err != nil {
		return nil, err
	}
	c := newCompiler(s.db, s, state)
	t, err := c.target(cs.Relation)
	if err != nil {
		return nil, err
	}
	var colIdx []int
	if len(cs.Attlist) == 0 {
		for i := range t.cols {
			colIdx = append(colIdx, i)
		}
	} else {
		for _, a := range cs.Attlist {
			i := t.def.ColumnIndex(strVal(a))
			if i < 0 {
				return nil, errorf(codeUndefinedColumn, "column %q of relation %q does not exist", strVal(a), t.name)
			}
			colIdx = append(colIdx, i)
		}
	}
	deps := c.deps
	return &pgwire.Result{CopyColumns: len(colIdx), CopyBinary: opts.binary, CopyIn: func(ctx context.Context, r io.Reader) (string, error) {
		if s.tx != nil && s.tx.failed {
			return "", abortedErr()
		}
		var rows [][]*string
		var binRows [][][]byte
		var err error
		if opts.binary {
			binRows, err = readBinaryCopyRows(r, len(colIdx))
		} else {
			rows, err = readCopyRows(r, opts, len(colIdx))
		}
		if err != nil {
			s.failTx()
			return "", err
		}
		nrows := len(rows) + len(binRows)
		run := func(x *execCtx) (*pgwire.Result, error) {
			for dep, lsn := range deps {
				x.ch.schema(dep, lsn)
			}
			tbl, ok := x.st.Table(t.name)
			if !ok || tbl.SchemaLSN() != deps[t.name] {
				return nil, errorf(codeSerialization, "could not serialize access due to concurrent schema change")
			}
			ins := &inserter{t: t, tbl: tbl, stmtKeys: map[string]bool{}, stmtUnique: map[string]bool{}}
			for ln := range nrows {
				row := make([]any, len(t.cols))
				given := make([]bool, len(t.cols))
				for j, ci := range colIdx {
					given[ci] = true
					var v any
					var err error
					switch {
					case opts.binary && binRows[ln][j] != nil:
						if v, err = fromBinary(binRows[ln][j], t.cols[ci].t, x.now); err == nil {
							v, err = t.assign(x, ci, v, t.cols[ci].t)
						}
					case !opts.binary && rows[ln][j] != nil:
						v, err = t.assign(x, ci, *rows[ln][j], tText)
					}
					if err != nil {
						return nil, copyLineErr(err, t.name, ln+1)
					}
					row[ci] = v
				}
				if err := ins.fillDefaults(x, row, given); err != nil {
					return nil, err
				}
				if _, _, err := ins.insert(x, row); err != nil {
					return nil, copyLineErr(err, t.name, ln+1)
				}
			}
			return &pgwire.Result{Tag: fmt.Sprintf("COPY %d", nrows)}, nil
		}
		if s.tx != nil {
			s.tx.replayable = false
		}
		var res *pgwire.Result
		if s.tx == nil && copyInputBytes(rows, binRows) > copyStageBytes {
			res, err = s.copyStaged(ctx, t.name, run) // copy_staged.go
		} else {
			res, err = s.execData(ctx, run, true)
		}
		if err != nil {
			s.failTx()
			return "", err
		}
		return res.Tag, nil
	}}, nil
}

// copyInputBytes is the size of the parsed COPY input: what decides
// whether an autocommit COPY is staged (copy_staged.go).
func copyInputBytes(rows [][]*string, binRows [][][]byte) int {
	n := 0
	for _, r := range rows {
		n += len(r)
		for _, f := range r {
			if f != nil {
				n += len(*f)
			}
		}
	}
	for _, r := range binRows {
		n += len(r)
		for _, f := range r {
			n += len(f)
		}
	}
	return n
}

func copyLineErr(err error, table string, line int) error {
	if e, ok := err.(*Error); ok && e.Det == "" {
		e.Det = fmt.Sprintf("COPY %s, line %d", table, line)
	}
	return err
}

// readCopyRows parses the whole COPY input; nil fields are NULL.
func readCopyRows(r io.Reader, o *copyOpts, ncols int) ([][]*string, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var rows [][]*string
	first := true
	for {
		line, err := readCopyLine(br, o)
		if err == io.EOF && line == "" {
			break
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if line == `\.` {
			break
		}
		if first && o.header {
			first = false
			continue
		}
		first = false
		var fields []*string
		if o.csv {
			fields, err = splitCSV(line, o)
		} else {
			fields, err = splitText(line, o)
		}
		if err != nil {
			return nil, err
		}
		if len(fields) != ncols {
			if len(fields) < ncols {
				return nil, errorf(codeBadCopyFile, "missing data for column %d", len(fields)+1).withDetail(fmt.Sprintf("line %d", len(rows)+1))
			}
			return nil, errorf(codeBadCopyFile, "extra data after last expected column").withDetail(fmt.Sprintf("line %d", len(rows)+1))
		}
		rows = append(rows, fields)
		if err == io.EOF {
			break
		}
	}
	return rows, nil
}

func (e *Error) withDetail(d string) *Error { e.Det = d; return e }

// readCopyLine reads one logical line (CSV quoted fields may span lines).
func readCopyLine(br *bufio.Reader, o *copyOpts) (string, error) {
	line, err := br.ReadString('\n')
	if o.csv {
		for strings.Count(line, string(o.quote))%2 == 1 && err == nil {
			var more string
			more, err = br.ReadString('\n')
			line += more
		}
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	return line, err
}

func splitText(line string, o *copyOpts) ([]*string, error) {
	var out []*string
	for _, raw := range strings.Split(line, string(o.delim)) {
		if raw == o.null {
			out = append(out, nil)
			continue
		}
		if !strings.Contains(raw, `\`) {
			v := raw
			out = append(out, &v)
			continue
		}
		var b strings.Builder
		for i := 0; i < len(raw); i++ {
			ch := raw[i]
			if ch != '\\' || i+1 >= len(raw) {
				b.WriteByte(ch)
				continue
			}
			i++
			switch raw[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case 'x':
				j := i + 1
				for j < len(raw) && j < i+3 && isHex(raw[j]) {
					j++
				}
				if n, err := strconv.ParseUint(raw[i+1:j], 16, 8); err == nil {
					b.WriteByte(byte(n))
					i = j - 1
				} else {
					b.WriteByte('x')
				}
			default:
				if raw[i] >= '0' && raw[i] <= '7' {
					j := i
					for j < len(raw) && j < i+3 && raw[j] >= '0' && raw[j] <= '7' {
						j++
					}
					n, _ := strconv.ParseUint(raw[i:j], 8, 8)
					b.WriteByte(byte(n))
					i = j - 1
				} else {
					b.WriteByte(raw[i])
				}
			}
		}
		v := b.String()
		out = append(out, &v)
	}
	return out, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func splitCSV(line string, o *copyOpts) ([]*string, error) {
	var out []*string
	var b strings.Builder
	quoted, inq := false, false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case inq && ch == o.escape && i+1 < len(line) && line[i+1] == o.quote:
			b.WriteByte(o.quote)
			i++
		case ch == o.quote:
			inq = !inq
			quoted = true
		case ch == o.delim && !inq:
			v := b.String()
			if !quoted && v == o.null {
				out = append(out, nil)
			} else {
				out = append(out, &v)
			}
			b.Reset()
			quoted = false
		default:
			b.WriteByte(ch)
		}
	}
	if inq {
		return nil, errorf(codeBadCopyFile, "unterminated CSV quoted field")
	}
	v := b.String()
	if !quoted && v == o.null {
		out = append(out, nil)
	} else {
		out = append(out, &v)
	}
	return out, nil
}

func (s *Session) copyTo(ctx context.Context, cs *pg.CopyStmt, opts *copyOpts) (*pgwire.Result, error) {
	state, err := s.readState(ctx, "")
	if err != nil {
		return nil, err
	}
	c := newCompiler(s.db, s, state)
	var p plan
	if cs.Query != nil {
		sel := cs.Query.GetSelectStmt()
		if sel == nil {
			return nil, unsupported("COPY of this statement")
		}
		if p, err = c.compileSelect(sel, nil); err != nil {
			return nil, err
		}
	} else {
		sel := &pg.SelectStmt{FromClause: []*pg.Node{{Node: &pg.Node_RangeVar{RangeVar: cs.Relation}}}}
		if len(cs.Attlist) == 0 {
			sel.TargetList = []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: []*pg.Node{{Node: &pg.Node_AStar{AStar: &pg.A_Star{}}}}}}}}}}}
		}
		for _, a := range cs.Attlist {
			sel.TargetList = append(sel.TargetList, &pg.Node{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: &pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: []*pg.Node{a}}}}}}})
		}
		if p, err = c.compileSelect(sel, nil); err != nil {
			return nil, err
		}
	}
	x := s.newExec(ctx, state, s.db.cfg.Clock())
	rows, err := p.run(x)
	if err != nil {
		return nil, err
	}
	cols := p.columns()
	if opts.binary {
		return &pgwire.Result{CopyColumns: len(cols), CopyBinary: true, Tag: fmt.Sprintf("COPY %d", len(rows)), CopyOut: func(ctx context.Context, w io.Writer) error {
			return writeBinaryCopy(w, cols, rows)
		}}, nil
	}
	return &pgwire.Result{CopyColumns: len(cols), Tag: fmt.Sprintf("COPY %d", len(rows)), CopyOut: func(ctx context.Context, w io.Writer) error {
		var buf bytes.Buffer
		if opts.header {
			for i, col := range cols {
				if i > 0 {
					buf.WriteByte(opts.delim)
				}
				buf.WriteString(col.name)
			}
			buf.WriteByte('\n')
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
		}
		for _, r := range rows {
			buf.Reset()
			for i, v := range r {
				if i > 0 {
					buf.WriteByte(opts.delim)
				}
				if v == nil {
					buf.WriteString(opts.null)
					continue
				}
				text := formatTyped(v, cols[i].t)
				if opts.csv {
					if text == "" || strings.ContainsAny(text, string([]byte{opts.delim, opts.quote, '\n', '\r'})) || text == opts.null {
						text = string(opts.quote) + strings.ReplaceAll(text, string(opts.quote), string([]byte{opts.escape, opts.quote})) + string(opts.quote)
					}
					buf.WriteString(text)
				} else {
					buf.WriteString(copyEscape(text, opts.delim))
				}
			}
			buf.WriteByte('\n')
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

func copyEscape(s string, delim byte) string {
	if !strings.ContainsAny(s, "\\\n\r\t"+string(delim)) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c == delim {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}
