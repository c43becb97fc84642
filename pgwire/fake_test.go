package pgwire

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// fakeBackend is a tiny SQL layer for tests: one table kv(k int8 primary
// key, v text) and a handful of recognised statements. It exists to drive
// the protocol, not to be a database.
type fakeBackend struct {
	mu sync.Mutex
	kv map[int64]string // guarded by mu

	open atomic.Int32 // sessions not yet closed
}

func newFakeBackend() *fakeBackend { return &fakeBackend{kv: make(map[int64]string)} }

func (b *fakeBackend) NewSession(_ context.Context, info StartupInfo) (Session, error) {
	if info.Database == "nodb" {
		return nil, &sqlError{code: "3D000", msg: fmt.Sprintf("database %q does not exist", info.Database)}
	}
	b.open.Add(1)
	return &fakeSession{b: b, tx: 'I', params: map[string]string{
		"server_version":   "15.0 (HeliosDB-Lite)",
		"application_name": info.Params["application_name"],
	}}, nil
}

// sqlError implements SQLStateError and the optional field interfaces.
type sqlError struct {
	code, msg, detail, hint string
	pos                     int
}

func (e *sqlError) Error() string    { return e.msg }
func (e *sqlError) SQLState() string { return e.code }
func (e *sqlError) Position() int    { return e.pos }
func (e *sqlError) Detail() string   { return e.detail }
func (e *sqlError) Hint() string     { return e.hint }

type fakeSession struct {
	b      *fakeBackend
	tx     byte
	params map[string]string
	closed bool
}

func (s *fakeSession) TxStatus() byte                     { return s.tx }
func (s *fakeSession) ParameterStatus() map[string]string { return maps.Clone(s.params) }
func (s *fakeSession) Close() {
	if s.closed {
		panic("session closed twice")
	}
	s.closed = true
	s.b.open.Add(-1)
}

func (s *fakeSession) PrepareSimple(ctx context.Context, query string) ([]Statement, error) {
	var out []Statement
	for part := range strings.SplitSeq(query, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		st, err := s.Prepare(ctx, part, nil)
		if err != nil {
			if s.tx == 'T' {
				s.tx = 'E'
			}
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

type fakeStmt struct {
	s      *fakeSession
	txEnd  bool // COMMIT or ROLLBACK: allowed in a failed transaction
	params []uint32
	cols   []Column
	exec   func(ctx context.Context, params []any) (*Result, error)
}

func (st *fakeStmt) ParamTypes() []uint32 { return st.params }
func (st *fakeStmt) Columns() []Column    { return st.cols }
func (st *fakeStmt) Execute(ctx context.Context, params []any) (*Result, error) {
	if st.s.tx == 'E' && st.cols == nil && st.params == nil && st.txEnd {
		return st.exec(ctx, params)
	}
	if st.s.tx == 'E' {
		return nil, &sqlError{code: "25P02", msg: "current transaction is aborted"}
	}
	res, err := st.exec(ctx, params)
	if err != nil && st.s.tx == 'T' {
		st.s.tx = 'E'
	}
	return res, err
}

var typeOIDs = map[string]uint32{
	"int2": pgtype.Int2OID, "int4": pgtype.Int4OID, "int8": pgtype.Int8OID,
	"float4": pgtype.Float4OID, "float8": pgtype.Float8OID, "bool": pgtype.BoolOID,
	"text": pgtype.TextOID, "varchar": pgtype.VarcharOID, "bytea": pgtype.ByteaOID,
	"date": pgtype.DateOID, "timestamp": pgtype.TimestampOID, "timestamptz": pgtype.TimestamptzOID,
	"uuid": pgtype.UUIDOID, "numeric": pgtype.NumericOID, "json": pgtype.JSONOID, "jsonb": pgtype.JSONBOID,
}

func col(name string, oid uint32) Column {
	return Column{Name: name, TypeOID: oid, TypeSize: -1, TypeMod: -1}
}

var (
	kvCols      = []Column{col("k", pgtype.Int8OID), col("v", pgtype.TextOID)}
	reParam     = regexp.MustCompile(`\$(\d+)(?:::(\w+))?`)
	reInsert    = regexp.MustCompile(`(?i)^insert into kv values \((.+),(.+)\)$`)
	reSeries    = regexp.MustCompile(`^select generate_series\(1, *(\d+)\)$`)
	reSleep     = regexp.MustCompile(`^select pg_sleep\((\d+)\)$`)
	reSetParam  = regexp.MustCompile(`(?i)^set (\w+) *(?:=|to) *'?([^']*)'?$`)
	errNotFound = &sqlError{code: "42P01", msg: `relation "nope" does not exist`, pos: 15,
		detail: "the fake knows only kv", hint: "create it first"}
)

func (s *fakeSession) Prepare(_ context.Context, query string, declared []uint32) (Statement, error) {
	q := strings.Join(strings.Fields(strings.ReplaceAll(query, `"`, "")), " ")
	lq := strings.ToLower(q)
	st := &fakeStmt{s: s}
	tag := func(t string) func(context.Context, []any) (*Result, error) {
		return func(context.Context, []any) (*Result, error) { return &Result{Tag: t}, nil }
	}
	switch {
	case strings.Contains(lq, ";"):
		return nil, &sqlError{code: "42601", msg: "cannot insert multiple commands into a prepared statement"}
	case lq == "begin":
		st.exec = func(context.Context, []any) (*Result, error) { s.tx = 'T'; return &Result{Tag: "BEGIN"}, nil }
	case lq == "commit" || lq == "rollback":
		st.txEnd = true
		st.exec = func(context.Context, []any) (*Result, error) {
			s.tx = 'I'
			return &Result{Tag: strings.ToUpper(lq)}, nil
		}
	case lq == "select 1":
		st.cols = []Column{col("?column?", pgtype.Int4OID)}
		st.exec = func(context.Context, []any) (*Result, error) {
			return &Result{Tag: "SELECT 1", Rows: [][]any{{int64(1)}}}, nil
		}
	case lq == "select panic":
		st.exec = func(context.Context, []any) (*Result, error) { panic("boom") }
	case lq == "select * from nope":
		return nil, errNotFound
	case strings.HasPrefix(lq, "select k, v from kv"):
		st.cols = kvCols
		st.exec = func(context.Context, []any) (*Result, error) {
			s.b.mu.Lock()
			defer s.b.mu.Unlock()
			res := &Result{}
			for _, k := range slices.Sorted(maps.Keys(s.b.kv)) {
				res.Rows = append(res.Rows, []any{k, s.b.kv[k]})
			}
			res.Tag = fmt.Sprintf("SELECT %d", len(res.Rows))
			return res, nil
		}
	case reInsert.MatchString(lq):
		args := reInsert.FindStringSubmatch(q)
		st.params = []uint32{pgtype.Int8OID, pgtype.TextOID}
		st.exec = func(_ context.Context, params []any) (*Result, error) {
			k, v, err := literalOrParam(args[1], args[2], params)
			if err != nil {
				return nil, err
			}
			return &Result{Tag: "INSERT 0 1"}, s.b.insert(k, v)
		}
	case reSeries.MatchString(lq):
		n, _ := strconv.Atoi(reSeries.FindStringSubmatch(lq)[1])
		st.cols = []Column{col("generate_series", pgtype.Int8OID)}
		st.exec = func(context.Context, []any) (*Result, error) {
			res := &Result{Tag: fmt.Sprintf("SELECT %d", n)}
			for i := 1; i <= n; i++ {
				res.Rows = append(res.Rows, []any{int64(i)})
			}
			return res, nil
		}
	case reSleep.MatchString(lq):
		n, _ := strconv.Atoi(reSleep.FindStringSubmatch(lq)[1])
		st.cols = []Column{col("pg_sleep", pgtype.TextOID)}
		st.exec = func(ctx context.Context, _ []any) (*Result, error) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(n) * time.Second):
				return &Result{Tag: "SELECT 1", Rows: [][]any{{""}}}, nil
			}
		}
	case strings.HasPrefix(lq, "select $"):
		// Echo: select $1::int8, $2::text, $3 ... returns its parameters.
		for _, m := range reParam.FindAllStringSubmatch(lq, -1) {
			oid := typeOIDs[m[2]] // 0 when uncast: the server decides
			i, _ := strconv.Atoi(m[1])
			if i >= 1 && i-1 < len(declared) && oid == 0 {
				oid = declared[i-1]
			}
			st.params = append(st.params, oid)
			colOID := oid
			if colOID == 0 {
				colOID = pgtype.TextOID
			}
			st.cols = append(st.cols, col("?column?", colOID))
		}
		st.exec = func(_ context.Context, params []any) (*Result, error) {
			return &Result{Tag: "SELECT 1", Rows: [][]any{slices.Clone(params)}}, nil
		}
	case lq == "select types":
		st.cols = []Column{col("i", pgtype.Int4OID), col("f", pgtype.Float8OID), col("b", pgtype.BoolOID),
			col("t", pgtype.TextOID), col("by", pgtype.ByteaOID), col("d", pgtype.DateOID),
			col("ts", pgtype.TimestamptzOID), col("u", pgtype.UUIDOID), col("n", pgtype.NumericOID), col("nul", pgtype.TextOID)}
		st.exec = func(context.Context, []any) (*Result, error) {
			return &Result{Tag: "SELECT 1", Rows: [][]any{{int64(42), 1.5, true, "héllo", []byte{0xde, 0xad},
				time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 12, 30, 0, 0, time.UTC),
				[16]byte{0x12, 0x34, 15: 0xff}, "12.345", nil}}}, nil
		}
	case reSetParam.MatchString(lq):
		m := reSetParam.FindStringSubmatch(q)
		st.exec = func(context.Context, []any) (*Result, error) {
			s.params[m[1]] = m[2]
			return &Result{Tag: "SET"}, nil
		}
	case lq == "copy kv to stdout":
		st.exec = func(context.Context, []any) (*Result, error) {
			res := &Result{CopyColumns: 2}
			res.CopyOut = func(_ context.Context, w io.Writer) error {
				s.b.mu.Lock()
				defer s.b.mu.Unlock()
				keys := slices.Sorted(maps.Keys(s.b.kv))
				for _, k := range keys {
					if _, err := fmt.Fprintf(w, "%d\t%s\n", k, s.b.kv[k]); err != nil {
						return err
					}
				}
				res.Tag = fmt.Sprintf("COPY %d", len(keys))
				return nil
			}
			return res, nil
		}
	case lq == "copy big to stdout":
		// Small and large writes interleaved: large ones bypass the send
		// buffer (copyDirectMin) and must stay in order with the small.
		st.exec = func(context.Context, []any) (*Result, error) {
			return &Result{CopyColumns: 1, CopyOut: func(_ context.Context, w io.Writer) error {
				for _, p := range copyBigPieces() {
					if _, err := w.Write(p); err != nil {
						return err
					}
				}
				return nil
			}}, nil
		}
	case strings.HasPrefix(lq, "copy kv") && strings.Contains(lq, "from stdin"):
		binaryFormat := strings.Contains(lq, "binary")
		st.exec = func(context.Context, []any) (*Result, error) {
			return &Result{CopyColumns: 2, CopyBinary: binaryFormat, CopyIn: func(ctx context.Context, r io.Reader) (string, error) {
				var n int
				var err error
				if binaryFormat {
					n, err = s.b.copyBinary(r)
				} else {
					n, err = s.b.copyText(r)
				}
				return fmt.Sprintf("COPY %d", n), err
			}}, nil
		}
	default:
		return nil, &sqlError{code: "42601", msg: fmt.Sprintf("syntax error at or near %q", strings.Fields(q + " x")[0]), pos: 1}
	}
	if st.exec == nil {
		st.exec = tag("SELECT 0")
	}
	return st, nil
}

func literalOrParam(ks, vs string, params []any) (int64, string, error) {
	ks, vs = strings.TrimSpace(ks), strings.TrimSpace(vs)
	var k int64
	var v string
	if strings.HasPrefix(ks, "$") {
		i, _ := strconv.Atoi(ks[1:])
		k, _ = params[i-1].(int64)
	} else {
		var err error
		if k, err = strconv.ParseInt(strings.Trim(ks, "'"), 10, 64); err != nil {
			return 0, "", &sqlError{code: "22P02", msg: "invalid input syntax for type bigint: " + ks}
		}
	}
	if strings.HasPrefix(vs, "$") {
		i, _ := strconv.Atoi(vs[1:])
		v, _ = params[i-1].(string)
	} else {
		v = strings.ReplaceAll(strings.Trim(vs, "'"), "''", "'")
	}
	return k, v, nil
}

func (b *fakeBackend) insert(k int64, v string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.kv[k]; dup {
		return &sqlError{code: "23505", msg: "duplicate key value violates unique constraint \"kv_pkey\"",
			detail: fmt.Sprintf("Key (k)=(%d) already exists.", k)}
	}
	b.kv[k] = v
	return nil
}

func (b *fakeBackend) copyText(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	var keys []int64
	var vals []string
	for sc.Scan() {
		if sc.Text() == `\.` {
			break
		}
		ks, v, ok := strings.Cut(sc.Text(), "\t")
		k, err := strconv.ParseInt(ks, 10, 64)
		if !ok || err != nil {
			return 0, &sqlError{code: "22P04", msg: fmt.Sprintf("bad copy line %q", sc.Text())}
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	// All or nothing, as a COPY in its own transaction would be.
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range keys {
		if _, dup := b.kv[k]; dup {
			return 0, &sqlError{code: "23505", msg: "duplicate key value violates unique constraint \"kv_pkey\""}
		}
	}
	for i, k := range keys {
		b.kv[k] = vals[i]
	}
	return len(keys), nil
}

// copyBinary reads PostgreSQL's binary COPY format, as pgx's CopyFrom sends it.
func (b *fakeBackend) copyBinary(r io.Reader) (int, error) {
	br := bufio.NewReader(r)
	hdr := make([]byte, 19)
	if _, err := io.ReadFull(br, hdr); err != nil || string(hdr[:11]) != "PGCOPY\n\377\r\n\000" {
		return 0, &sqlError{code: "22P04", msg: "bad binary copy header"}
	}
	n := 0
	for {
		var cnt int16
		if err := binary.Read(br, binary.BigEndian, &cnt); err == io.EOF {
			return n, nil // pgx omits the trailer
		} else if err != nil {
			return n, err
		}
		if cnt == -1 {
			return n, nil
		}
		if cnt != 2 {
			return n, &sqlError{code: "22P04", msg: "want 2 fields"}
		}
		var vals [2][]byte
		for i := range vals {
			var l int32
			if err := binary.Read(br, binary.BigEndian, &l); err != nil {
				return n, err
			}
			if l < 0 || l > 1<<20 {
				return n, &sqlError{code: "22P04", msg: "bad field length"}
			}
			vals[i] = make([]byte, l)
			if _, err := io.ReadFull(br, vals[i]); err != nil {
				return n, err
			}
		}
		k, err := DecodeParam(pgtype.Int8OID, BinaryFormat, vals[0])
		if err != nil {
			return n, err
		}
		v, err := DecodeParam(pgtype.TextOID, BinaryFormat, vals[1])
		if err != nil {
			return n, err
		}
		if err := b.insert(k.(int64), v.(string)); err != nil {
			return n, err
		}
		n++
	}
}
