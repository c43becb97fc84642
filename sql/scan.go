package sql

import (
	"fmt"
	"strings"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Access path kinds.
const (
	pathFull   = iota
	pathPK     // primary key: equality prefix and/or range on the next column
	pathIndex  // secondary index: same shape
	pathRowIDs // hidden row ids (DML on tables without a key): full scan
)

// accessPath says how a scan finds its rows. Equality values are
// evaluated per execution (they may be parameters or outer references);
// every fetched row is re-checked against the full predicate above.
type accessPath struct {
	kind   int
	index  int    // pathIndex: position in TableDef.Indexes
	cols   []int  // key columns (PK or index) in key order
	eq     []expr // values for cols[:len(eq)]
	lo, hi *expr  // range on cols[len(eq)] (inclusive; the filter rechecks strictness)
	name   string // index name for EXPLAIN
}

// scanNode reads a user table.
type scanNode struct {
	table string
	alias string
	cols  []colInfo
	def   *engine.TableDef
	// meta appends two hidden columns: the row's encoded key and its LSN
	// (as int64), used by UPDATE/DELETE to build ops and preconditions.
	meta bool
	path accessPath
}

func (n *scanNode) columns() []colInfo { return n.cols }

// keyBytes evaluates the equality prefix (and an optional bound) into an
// encoded key prefix. ok=false means no row can match (a value that
// cannot be represented in the column type, or NULL).
func (n *scanNode) keyBytes(x *execCtx, vals []expr, extra *expr) ([]byte, bool, error) {
	var k []byte
	all := vals
	if extra != nil {
		all = append(append([]expr(nil), vals...), *extra)
	}
	for i, e := range all {
		v, err := e.fn(x, nil)
		if err != nil {
			return nil, false, err
		}
		if v == nil {
			return nil, false, nil
		}
		ct := colType(&n.def.Columns[n.path.cols[i]])
		cv, err := castValue(v, e.t, typ{k: ct.k}, true, x.now)
		if err != nil {
			return nil, false, nil
		}
		if ct.k == kChar {
			cv, _ = applyLength(cv.(string), ct, true)
		}
		if ct.k == kFloat4 {
			// Stored float4 values are float32-rounded float64s.
			cv = float64(float32(cv.(float64)))
		}
		k = engine.EncodeKey(k, cv)
	}
	return k, true, nil
}

func (n *scanNode) run(x *execCtx) ([][]any, error) {
	var out [][]any
	err := n.iterate(x, func(ref engine.RowRef, row []any) (bool, error) {
		out = append(out, row)
		return true, nil
	})
	return out, err
}

// iterate calls fn with each candidate row (decoded, plus meta columns
// when requested).
func (n *scanNode) iterate(x *execCtx, fn func(engine.RowRef, []any) (bool, error)) error {
	tbl, ok := x.st.Table(n.table)
	if !ok {
		return errorf(codeUndefinedTable, "relation %q does not exist", n.table)
	}
	var ferr error
	visit := func(ref engine.RowRef) bool {
		if ferr = x.tick(); ferr != nil {
			return false
		}
		row, err := ref.Decode()
		if err != nil {
			ferr = err
			return false
		}
		r := []any(row)
		if n.meta {
			r = append(r[:len(row):len(row)], ref.Key, int64(ref.LSN))
		}
		var cont bool
		cont, ferr = fn(ref, r)
		return cont && ferr == nil
	}
	switch n.path.kind {
	case pathPK, pathIndex:
		prefix, ok, err := n.keyBytes(x, n.path.eq, nil)
		if err != nil || !ok {
			return err
		}
		lo, hi := prefix, engine.PrefixEnd(prefix)
		if n.path.lo != nil {
			b, ok, err := n.keyBytes(x, n.path.eq, n.path.lo)
			if err != nil || !ok {
				return err
			}
			lo = b
		}
		if n.path.hi != nil {
			b, ok, err := n.keyBytes(x, n.path.eq, n.path.hi)
			if err != nil || !ok {
				return err
			}
			hi = engine.PrefixEnd(b)
		}
		if len(prefix) == 0 && n.path.lo == nil {
			lo = nil
		}
		if n.path.kind == pathPK {
			if len(n.path.eq) == len(n.path.cols) {
				if ref, found := tbl.Get(string(prefix)); found {
					visit(ref)
				}
				return ferr
			}
			tbl.ScanRange(lo, hi, visit)
		} else {
			tbl.IndexScan(n.path.index, lo, hi, visit)
		}
	default:
		tbl.Scan(visit)
	}
	return ferr
}

func (n *scanNode) explain(e *explainer, depth int) {
	name := n.table
	if n.alias != "" && n.alias != n.table {
		name += " " + n.alias
	}
	switch n.path.kind {
	case pathPK, pathIndex:
		e.add(depth, "Index Scan using %s on %s", n.path.name, name)
		var conds []string
		for i := range n.path.eq {
			conds = append(conds, fmt.Sprintf("(%s = $)", n.def.Columns[n.path.cols[i]].Name))
		}
		col := ""
		if len(n.path.eq) < len(n.path.cols) {
			col = n.def.Columns[n.path.cols[len(n.path.eq)]].Name
		}
		if n.path.lo != nil {
			conds = append(conds, fmt.Sprintf("(%s >= $)", col))
		}
		if n.path.hi != nil {
			conds = append(conds, fmt.Sprintf("(%s <= $)", col))
		}
		if len(conds) > 0 {
			e.lines = append(e.lines, strings.Repeat(" ", indentOf(depth)+2)+"  Index Cond: "+strings.Join(conds, " AND "))
		}
	default:
		e.add(depth, "Seq Scan on %s", name)
	}
}

// virtualNode is a catalog relation computed from the snapshot.
type virtualNode struct {
	name string
	cols []colInfo
	gen  func(x *execCtx) ([][]any, error)
}

func (n *virtualNode) columns() []colInfo              { return n.cols }
func (n *virtualNode) run(x *execCtx) ([][]any, error) { return n.gen(x) }
func (n *virtualNode) explain(e *explainer, depth int) { e.add(depth, "Function Scan on %s", n.name) }

// joinNode joins two inputs. With equality keys it builds a hash table on
// the right input; otherwise it loops.
type joinNode struct {
	kind        string // INNER, LEFT, RIGHT, FULL, CROSS
	left, right plan
	lkeys       []expr // over left rows
	rkeys       []expr // over right rows
	cond        *expr  // residual condition over concatenated rows
	cols        []colInfo
}

func (n *joinNode) columns() []colInfo { return n.cols }

func (n *joinNode) run(x *execCtx) ([][]any, error) {
	lrows, err := n.left.run(x)
	if err != nil {
		return nil, err
	}
	rrows, err := n.right.run(x)
	if err != nil {
		return nil, err
	}
	nl, nr := len(n.left.columns()), len(n.right.columns())
	concat := func(l, r []any) []any {
		row := make([]any, nl+nr)
		if l != nil {
			copy(row, l)
		}
		if r != nil {
			copy(row[nl:], r)
		}
		return row
	}
	matches := func(row []any) (bool, error) {
		if n.cond == nil {
			return true, nil
		}
		v, err := n.cond.fn(x, row)
		return v == true, err
	}
	keyOf := func(keys []expr, r []any) (string, bool, error) {
		vals := make([]any, len(keys))
		for i, k := range keys {
			v, err := k.fn(x, r)
			if err != nil {
				return "", false, err
			}
			if v == nil {
				return "", false, nil
			}
			vals[i] = v
		}
		return rowKey(vals), true, nil
	}
	var hash map[string][]int
	if len(n.lkeys) > 0 {
		hash = make(map[string][]int, len(rrows))
		for i, r := range rrows {
			k, ok, err := keyOf(n.rkeys, r)
			if err != nil {
				return nil, err
			}
			if ok {
				hash[k] = append(hash[k], i)
			}
		}
	}
	rightMatched := make([]bool, len(rrows))
	var out [][]any
	for _, l := range lrows {
		if err := x.tick(); err != nil {
			return nil, err
		}
		matched := false
		try := func(i int) error {
			row := concat(l, rrows[i])
			ok, err := matches(row)
			if err != nil {
				return err
			}
			if ok {
				matched = true
				rightMatched[i] = true
				out = append(out, row)
			}
			return nil
		}
		if hash != nil {
			k, ok, err := keyOf(n.lkeys, l)
			if err != nil {
				return nil, err
			}
			if ok {
				for _, i := range hash[k] {
					if err := try(i); err != nil {
						return nil, err
					}
				}
			}
		} else {
			for i := range rrows {
				if err := try(i); err != nil {
					return nil, err
				}
			}
		}
		if !matched && (n.kind == "LEFT" || n.kind == "FULL") {
			out = append(out, concat(l, nil))
		}
	}
	if n.kind == "RIGHT" || n.kind == "FULL" {
		for i, r := range rrows {
			if !rightMatched[i] {
				out = append(out, concat(nil, r))
			}
		}
	}
	return out, nil
}

func (n *joinNode) explain(e *explainer, depth int) {
	kind := ""
	switch n.kind {
	case "LEFT":
		kind = " Left Join"
	case "RIGHT":
		kind = " Right Join"
	case "FULL":
		kind = " Full Join"
	default:
		kind = " Join"
	}
	if len(n.lkeys) > 0 {
		e.add(depth, "Hash%s", kind)
	} else {
		e.add(depth, "Nested Loop%s", strings.TrimSuffix(kind, " Join"))
	}
	n.left.explain(e, depth+1)
	if len(n.lkeys) > 0 {
		e.add(depth+1, "Hash")
		n.right.explain(e, depth+2)
	} else {
		n.right.explain(e, depth+1)
	}
}
