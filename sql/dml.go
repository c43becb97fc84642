package sql

import (
	"fmt"
	"strings"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/pgwire"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// target is the table a DML statement writes.
type target struct {
	name     string
	alias    string
	def      *engine.TableDef
	cols     []colInfo
	defaults []*expr // compiled DEFAULT per column (nil = none)
}

func (c *compiler) target(rv *pg.RangeVar) (*target, error) {
	if err := checkSchema(rv.Schemaname); err != nil {
		return nil, err
	}
	if vt, ok, _ := c.virtualTable(rv.Schemaname, rv.Relname); ok && vt != nil {
		return nil, errorf(codeWrongObjectType, "cannot change relation %q", rv.Relname)
	}
	tbl, ok := c.table(rv.Relname)
	if !ok {
		return nil, withPos(errorf(codeUndefinedTable, "relation %q does not exist", rv.Relname), rv.Location)
	}
	t := &target{name: rv.Relname, alias: rv.Relname, def: tbl.Def()}
	if rv.Alias != nil {
		t.alias = rv.Alias.Aliasname
	}
	oid := tableOID(t.name)
	t.defaults = make([]*expr, len(t.def.Columns))
	for i := range t.def.Columns {
		cd := &t.def.Columns[i]
		t.cols = append(t.cols, colInfo{table: t.alias, name: cd.Name, t: colType(cd), tableOID: oid, attnum: int16(i + 1)})
		if cd.Default != "" {
			e, err := c.compileDefault(cd.Default)
			if err != nil {
				return nil, err
			}
			t.defaults[i] = &e
		}
	}
	return t, nil
}

// compileDefault compiles a stored DEFAULT expression text.
func (c *compiler) compileDefault(text string) (expr, error) {
	tree, err := pg.Parse("SELECT " + text)
	if err != nil || len(tree.Stmts) != 1 {
		return expr{}, errorf(codeInternal, "invalid stored default %q", text)
	}
	rt := tree.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget()
	return c.compileExpr(rt.Val, nil)
}

// assign converts v to column i's type with assignment rules.
func (t *target) assign(x *execCtx, i int, v any, from typ) (any, error) {
	if v == nil {
		return nil, nil
	}
	ct := t.cols[i].t
	out, err := castValue(v, from, ct, false, x.now)
	if err != nil {
		if e, ok := err.(*Error); ok && e.Code == codeDatatypeMismatch {
			return nil, errorf(codeDatatypeMismatch, "column %q is of type %s but expression is of type %s", t.cols[i].name, ct, from)
		}
		return nil, err
	}
	if s, ok := out.(string); ok && (ct.k == kVarchar || ct.k == kChar) {
		if out, err = applyLength(s, ct, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *target) checkNotNull(row []any) error {
	for i, cd := range t.def.Columns {
		if cd.NotNull && row[i] == nil {
			return &Error{Code: codeNotNull, Msg: fmt.Sprintf("null value in column %q of relation %q violates not-null constraint", cd.Name, t.name),
				Det:    "Failing row contains " + rowText(row) + ".",
				Schema: "public", Table: t.name, Column: cd.Name}
		}
	}
	return nil
}

func rowText(row []any) string {
	parts := make([]string, len(row))
	for i, v := range row {
		if v == nil {
			parts[i] = "null"
		} else {
			parts[i] = formatValue(v)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (t *target) key(x *execCtx, tbl engine.Table, row []any) (string, error) {
	if t.def.HasHiddenRowID() {
		return engine.EncodeRowID(x.ch.nextval(tbl, t.name, -1)), nil
	}
	return t.def.KeyOf(engine.Row(row))
}

func encodeRow(row []any) ([]byte, error) {
	b, err := engine.EncodeRow(nil, engine.Row(row))
	if err != nil {
		return nil, errorf(codeInternal, "encoding row: %v", err)
	}
	return b, nil
}

func uniqueErr(def *engine.TableDef, name string, cols []int, row []any) error {
	var names, vals []string
	for _, ci := range cols {
		names = append(names, def.Columns[ci].Name)
		vals = append(vals, formatValue(row[ci]))
	}
	return &Error{Code: codeUnique, Msg: fmt.Sprintf("duplicate key value violates unique constraint %q", name),
		Det:    fmt.Sprintf("Key (%s)=(%s) already exists.", strings.Join(names, ", "), strings.Join(vals, ", ")),
		Schema: "public", Table: def.Name, Constraint: name}
}

// returning compiles a RETURNING list over sc.
func (c *compiler) returning(list []*pg.Node, sc *scope) ([]expr, []colInfo, error) {
	if len(list) == 0 {
		return nil, nil, nil
	}
	return c.compileTargets(list, sc)
}

func evalAll(x *execCtx, exprs []expr, r []any) ([]any, error) {
	out := make([]any, len(exprs))
	for i, e := range exprs {
		v, err := e.fn(x, r)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func dmlResult(verb string, n int, retCols []colInfo, ret [][]any) *pgwire.Result {
	if retCols != nil {
		res := rowsResult(verb, retCols, ret)
		res.Tag = dmlTag(verb, n)
		return res
	}
	return &pgwire.Result{Tag: dmlTag(verb, n)}
}

func dmlTag(verb string, n int) string {
	if verb == "INSERT" {
		return fmt.Sprintf("INSERT 0 %d", n)
	}
	return fmt.Sprintf("%s %d", verb, n)
}

func (c *compiler) compileInsert(s *pg.InsertStmt) (*compiled, error) {
	if s.WithClause != nil {
		return nil, unsupported("WITH in INSERT")
	}
	t, err := c.target(s.Relation)
	if err != nil {
		return nil, err
	}
	// Target column list.
	var colIdx []int
	if len(s.Cols) == 0 {
		for i := range t.cols {
			colIdx = append(colIdx, i)
		}
	} else {
		seen := map[int]bool{}
		for _, cn := range s.Cols {
			rt := cn.GetResTarget()
			i := t.def.ColumnIndex(rt.Name)
			if i < 0 {
				return nil, withPos(errorf(codeUndefinedColumn, "column %q of relation %q does not exist", rt.Name, t.name), rt.Location)
			}
			if len(rt.Indirection) > 0 {
				return nil, unsupported("INSERT into subfields")
			}
			if seen[i] {
				return nil, errorf(codeDuplicateColumn, "column %q specified more than once", rt.Name)
			}
			seen[i] = true
			colIdx = append(colIdx, i)
		}
	}
	// Source rows.
	var src plan
	if s.SelectStmt == nil {
		src = oneRowNode{} // DEFAULT VALUES
		colIdx = nil
	} else if sel := s.SelectStmt.GetSelectStmt(); len(sel.ValuesLists) > 0 && sel.Op == pg.SetOperation_SETOP_NONE && len(sel.SortClause) == 0 && sel.LimitCount == nil {
		types := make([]typ, len(colIdx))
		for i, ci := range colIdx {
			types[i] = t.cols[ci].t
		}
		if src, err = c.compileValues(sel.ValuesLists, nil, types); err != nil {
			return nil, err
		}
	} else {
		if src, err = c.compileSelect(sel, nil); err != nil {
			return nil, err
		}
	}
	srcCols := src.columns()
	if len(srcCols) > len(colIdx) {
		return nil, errorf(codeSyntax, "INSERT has more expressions than target columns")
	}
	if len(srcCols) < len(colIdx) && len(s.Cols) > 0 {
		return nil, errorf(codeSyntax, "INSERT has more target columns than expressions")
	}
	colIdx = colIdx[:len(srcCols)]
	// OVERRIDING USER VALUE: the sequence supplies identity columns
	// whatever the statement gives.
	userValue := s.Override == pg.OverridingKind_OVERRIDING_USER_VALUE
	if s.Override == pg.OverridingKind_OVERRIDING_NOT_SET {
		if err := checkAlwaysInsert(t, colIdx, s.SelectStmt); err != nil {
			return nil, err
		}
	}
	tsc := &scope{cols: t.cols}
	retExprs, retCols, err := c.returning(s.ReturningList, tsc)
	if err != nil {
		return nil, err
	}
	oc, err := c.compileOnConflict(s.OnConflictClause, t)
	if err != nil {
		return nil, err
	}
	return &compiled{cols: retCols, run: func(x *execCtx) (*pgwire.Result, error) {
		tbl, ok := x.st.Table(t.name)
		if !ok {
			return nil, errorf(codeUndefinedTable, "relation %q does not exist", t.name)
		}
		rows, err := src.run(x)
		if err != nil {
			return nil, err
		}
		ins := &inserter{t: t, tbl: tbl, oc: oc, stmtKeys: map[string]bool{}, stmtUnique: map[string]bool{}}
		var ret [][]any
		n := 0
		for _, r := range rows {
			if err := x.tick(); err != nil {
				return nil, err
			}
			row := make([]any, len(t.cols))
			given := make([]bool, len(t.cols))
			for j, ci := range colIdx {
				if _, isDef := r[j].(defaultMarker); isDef {
					continue
				}
				if userValue && t.def.Columns[ci].Generated != 0 {
					continue
				}
				v, err := t.assign(x, ci, r[j], srcCols[j].t)
				if err != nil {
					return nil, err
				}
				row[ci], given[ci] = v, true
			}
			if err := ins.fillDefaults(x, row, given); err != nil {
				return nil, err
			}
			out, wrote, err := ins.insert(x, row)
			if err != nil {
				return nil, err
			}
			if !wrote {
				continue
			}
			n++
			if retExprs != nil {
				rv, err := evalAll(x, retExprs, out)
				if err != nil {
					return nil, err
				}
				ret = append(ret, rv)
			}
		}
		return dmlResult("INSERT", n, retCols, ret), nil
	}}, nil
}

// inserter inserts rows of one statement, detecting conflicts against the
// snapshot and among the statement's own rows.
type inserter struct {
	t          *target
	tbl        engine.Table
	oc         *onConflict
	stmtKeys   map[string]bool
	stmtUnique map[string]bool
}

func (ins *inserter) fillDefaults(x *execCtx, row []any, given []bool) error {
	t := ins.t
	for i := range row {
		if given[i] {
			continue
		}
		switch {
		case t.def.Columns[i].Identity:
			row[i] = x.ch.nextval(ins.tbl, t.name, i)
		case t.defaults[i] != nil:
			v, err := t.defaults[i].fn(x, nil)
			if err != nil {
				return err
			}
			if row[i], err = t.assign(x, i, v, t.defaults[i].t); err != nil {
				return err
			}
		}
	}
	return nil
}

// insert writes row (or resolves its conflict); it returns the row as
// written for RETURNING and whether anything was written.
func (ins *inserter) insert(x *execCtx, row []any) ([]any, bool, error) {
	t := ins.t
	if err := t.checkNotNull(row); err != nil {
		return nil, false, err
	}
	key, err := t.key(x, ins.tbl, row)
	if err != nil {
		return nil, false, err
	}
	// Conflicts: primary key, then unique indexes.
	var conflict *engine.RowRef
	conflictName, conflictCols := "", []int(nil)
	if ins.stmtKeys[key] {
		if ins.oc == nil {
			return nil, false, uniqueErr(t.def, pkName(t.def), t.def.PrimaryKey, row)
		}
		if ins.oc.update {
			return nil, false, errorf(codeCardinality, "ON CONFLICT DO UPDATE command cannot affect row a second time")
		}
		return nil, false, nil
	}
	if ref, ok := ins.tbl.Get(key); ok && !t.def.HasHiddenRowID() {
		conflict, conflictName, conflictCols = &ref, pkName(t.def), t.def.PrimaryKey
	}
	var ukeys []string
	for i, ix := range t.def.Indexes {
		if !ix.Unique {
			continue
		}
		k, hasNull := t.def.IndexKey(i, engine.Row(row))
		if hasNull {
			continue
		}
		uk := fmt.Sprintf("%d:%s", i, k)
		if ins.stmtUnique[uk] {
			if ins.oc == nil {
				return nil, false, uniqueErr(t.def, ix.Name, ix.Columns, row)
			}
			return nil, false, nil
		}
		ukeys = append(ukeys, uk)
		if conflict == nil {
			ins.tbl.IndexScan(i, k, engine.PrefixEnd(k), func(ref engine.RowRef) bool {
				if ref.Key != key {
					r := ref
					conflict, conflictName, conflictCols = &r, ix.Name, ix.Columns
				}
				return false
			})
		}
	}
	if conflict != nil {
		if ins.oc == nil || !ins.oc.matches(conflictCols, conflictName) {
			return nil, false, uniqueErr(t.def, conflictName, conflictCols, row)
		}
		x.ch.rowLSN(t.name, conflict.Key, conflict.LSN)
		if !ins.oc.update {
			return nil, false, nil
		}
		return ins.oc.apply(x, ins, *conflict, row)
	}
	for _, uk := range ukeys {
		ins.stmtUnique[uk] = true
	}
	ins.stmtKeys[key] = true
	enc, err := encodeRow(row)
	if err != nil {
		return nil, false, err
	}
	// Hidden row ids are unique by allocation on this node only
	// (rowid.go): the key's absence is asserted for them too.
	x.ch.absent(t.name, key)
	x.ch.op(engine.Op{Kind: engine.OpInsert, Table: t.name, Key: key, Row: enc})
	return row, true, nil
}

// onConflict is a compiled ON CONFLICT clause.
type onConflict struct {
	update bool
	cols   []int  // inferred arbiter columns (nil = any)
	name   string // ON CONSTRAINT name
	sets   []setClause
	where  *expr
}

type setClause struct {
	col int
	e   expr
}

func (oc *onConflict) matches(cols []int, name string) bool {
	if oc.name != "" {
		return oc.name == name
	}
	if oc.cols == nil {
		return true
	}
	if len(cols) != len(oc.cols) {
		return false
	}
	for _, c := range cols {
		found := false
		for _, o := range oc.cols {
			found = found || o == c
		}
		if !found {
			return false
		}
	}
	return true
}

func (c *compiler) compileOnConflict(occ *pg.OnConflictClause, t *target) (*onConflict, error) {
	if occ == nil {
		return nil, nil
	}
	oc := &onConflict{update: occ.Action == pg.OnConflictAction_ONCONFLICT_UPDATE}
	if occ.Infer != nil {
		oc.name = occ.Infer.Conname
		for _, ie := range occ.Infer.IndexElems {
			el := ie.GetIndexElem()
			i := t.def.ColumnIndex(el.Name)
			if i < 0 {
				return nil, errorf(codeUndefinedColumn, "column %q does not exist", el.Name)
			}
			oc.cols = append(oc.cols, i)
		}
		if oc.cols != nil {
			ok := oc.matches(t.def.PrimaryKey, "")
			for _, ix := range t.def.Indexes {
				ok = ok || (ix.Unique && oc.matches(ix.Columns, ""))
			}
			if !ok {
				return nil, errorf(codeInvalidColumnRef, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
			}
		}
	} else if oc.update {
		return nil, errorf(codeSyntax, "ON CONFLICT DO UPDATE requires inference specification or constraint name")
	}
	if !oc.update {
		return oc, nil
	}
	// SET and WHERE see the existing row (table name) and EXCLUDED.
	cols := append([]colInfo(nil), t.cols...)
	for _, col := range t.cols {
		col.table = "excluded"
		cols = append(cols, col)
	}
	sc := &scope{cols: cols}
	sets, err := c.compileSets(occ.TargetList, t, sc)
	if err != nil {
		return nil, err
	}
	oc.sets = sets
	if occ.WhereClause != nil {
		w, err := c.compileCond(occ.WhereClause, sc, "WHERE")
		if err != nil {
			return nil, err
		}
		oc.where = &w
	}
	return oc, nil
}

func (oc *onConflict) apply(x *execCtx, ins *inserter, existing engine.RowRef, excluded []any) ([]any, bool, error) {
	t := ins.t
	old, err := existing.Decode()
	if err != nil {
		return nil, false, err
	}
	env := append(append([]any(nil), old...), excluded...)
	if oc.where != nil {
		v, err := oc.where.fn(x, env)
		if err != nil {
			return nil, false, err
		}
		if v != true {
			return nil, false, nil
		}
	}
	if ins.stmtKeys[existing.Key] {
		return nil, false, errorf(codeCardinality, "ON CONFLICT DO UPDATE command cannot affect row a second time")
	}
	row := append([]any(nil), old...)
	for _, s := range oc.sets {
		v, err := s.e.fn(x, env)
		if err != nil {
			return nil, false, err
		}
		if row[s.col], err = t.assign(x, s.col, v, s.e.t); err != nil {
			return nil, false, err
		}
	}
	if err := t.checkNotNull(row); err != nil {
		return nil, false, err
	}
	if !t.def.HasHiddenRowID() {
		if k, err := t.def.KeyOf(engine.Row(row)); err != nil || k != existing.Key {
			return nil, false, unsupported("ON CONFLICT DO UPDATE changing the primary key")
		}
	}
	ins.stmtKeys[existing.Key] = true
	enc, err := encodeRow(row)
	if err != nil {
		return nil, false, err
	}
	x.ch.op(engine.Op{Kind: engine.OpUpdate, Table: t.name, Key: existing.Key, Row: enc})
	return row, true, nil
}

// compileSets compiles UPDATE-style SET targets.
func (c *compiler) compileSets(list []*pg.Node, t *target, sc *scope) ([]setClause, error) {
	var sets []setClause
	for _, n := range list {
		rt := n.GetResTarget()
		if rt == nil {
			return nil, unsupported("this SET clause")
		}
		if _, ok := rt.Val.Node.(*pg.Node_MultiAssignRef); ok {
			return nil, unsupported("multiple-column SET")
		}
		if len(rt.Indirection) > 0 {
			return nil, unsupported("assignment to subfields")
		}
		i := t.def.ColumnIndex(rt.Name)
		if i < 0 {
			return nil, withPos(errorf(codeUndefinedColumn, "column %q of relation %q does not exist", rt.Name, t.name), rt.Location)
		}
		if t.def.Columns[i].Generated == 'a' && rt.Val.GetSetToDefault() == nil {
			return nil, &Error{Code: codeGeneratedAlways, Msg: fmt.Sprintf("column %q can only be updated to DEFAULT", rt.Name),
				Det: fmt.Sprintf("Column %q is an identity column defined as GENERATED ALWAYS.", rt.Name)}
		}
		var e expr
		var err error
		if rt.Val.GetSetToDefault() != nil {
			if t.def.Columns[i].Identity {
				e = nextvalExpr(t, i)
			} else if t.defaults[i] != nil {
				e = *t.defaults[i]
			} else {
				e = constExpr(nil, t.cols[i].t)
			}
		} else if e, err = c.compileExpr(rt.Val, sc); err != nil {
			return nil, err
		}
		if e.t.k == kUnknown || e.param > 0 {
			if e, err = c.coerce(e, t.cols[i].t); err != nil {
				return nil, err
			}
		}
		sets = append(sets, setClause{col: i, e: e})
	}
	return sets, nil
}

// dmlSource plans the rows an UPDATE/DELETE visits: the target scan (with
// key and LSN columns), joined with FROM/USING items, filtered by WHERE.
func (c *compiler) dmlSource(rel *pg.RangeVar, from []*pg.Node, where *pg.Node) (plan, error) {
	if err := checkSchema(rel.Schemaname); err != nil {
		return nil, err
	}
	p, err := c.compileRangeVar(rel, where, nil, true)
	if err != nil {
		return nil, withPos(err, rel.Location)
	}
	for _, it := range from {
		q, err := c.compileFromItem(it, nil, where)
		if err != nil {
			return nil, err
		}
		if p, err = c.makeJoin("INNER", p, q, nil, nil, nil, nil); err != nil {
			return nil, err
		}
	}
	if where != nil {
		cond, err := c.compileCond(where, &scope{cols: p.columns()}, "WHERE")
		if err != nil {
			return nil, err
		}
		p = &filterNode{in: p, cond: cond}
	}
	return p, nil
}

func (c *compiler) compileUpdate(s *pg.UpdateStmt) (*compiled, error) {
	if s.WithClause != nil {
		return nil, unsupported("WITH in UPDATE")
	}
	t, err := c.target(s.Relation)
	if err != nil {
		return nil, err
	}
	src, err := c.dmlSource(s.Relation, s.FromClause, s.WhereClause)
	if err != nil {
		return nil, err
	}
	sc := &scope{cols: src.columns()}
	sets, err := c.compileSets(s.TargetList, t, sc)
	if err != nil {
		return nil, err
	}
	retExprs, retCols, err := c.returning(s.ReturningList, sc)
	if err != nil {
		return nil, err
	}
	nt := len(t.cols)
	return &compiled{cols: retCols, run: func(x *execCtx) (*pgwire.Result, error) {
		rows, err := src.run(x)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		var updates, deletes, inserts []engine.Op
		deleted := map[string]bool{}
		var ret [][]any
		for _, r := range rows {
			key, lsn := r[nt].(string), uint64(r[nt+1].(int64))
			if seen[key] {
				continue
			}
			seen[key] = true
			row := append([]any(nil), r[:nt]...)
			for _, s := range sets {
				v, err := s.e.fn(x, r)
				if err != nil {
					return nil, err
				}
				if row[s.col], err = t.assign(x, s.col, v, s.e.t); err != nil {
					return nil, err
				}
			}
			if err := t.checkNotNull(row); err != nil {
				return nil, err
			}
			newKey := key
			if !t.def.HasHiddenRowID() {
				if newKey, err = t.def.KeyOf(engine.Row(row)); err != nil {
					return nil, err
				}
			}
			enc, err := encodeRow(row)
			if err != nil {
				return nil, err
			}
			x.ch.rowLSN(t.name, key, lsn)
			if newKey == key {
				updates = append(updates, engine.Op{Kind: engine.OpUpdate, Table: t.name, Key: key, Row: enc})
			} else {
				deletes = append(deletes, engine.Op{Kind: engine.OpDelete, Table: t.name, Key: key})
				deleted[key] = true
				inserts = append(inserts, engine.Op{Kind: engine.OpInsert, Table: t.name, Key: newKey, Row: enc})
			}
			if retExprs != nil {
				env := append(append([]any(nil), row...), r[nt:]...)
				rv, err := evalAll(x, retExprs, env)
				if err != nil {
					return nil, err
				}
				ret = append(ret, rv)
			}
		}
		tbl, _ := x.st.Table(t.name)
		for _, op := range inserts {
			if !deleted[op.Key] {
				if _, exists := tbl.Get(op.Key); exists {
					r, _, _ := engine.DecodeRow(op.Row)
					return nil, uniqueErr(t.def, pkName(t.def), t.def.PrimaryKey, r)
				}
				x.ch.absent(t.name, op.Key)
			}
		}
		for _, group := range [][]engine.Op{updates, deletes, inserts} {
			for _, op := range group {
				x.ch.op(op)
			}
		}
		return dmlResult("UPDATE", len(seen), retCols, ret), nil
	}}, nil
}

func (c *compiler) compileDelete(s *pg.DeleteStmt) (*compiled, error) {
	if s.WithClause != nil {
		return nil, unsupported("WITH in DELETE")
	}
	t, err := c.target(s.Relation)
	if err != nil {
		return nil, err
	}
	src, err := c.dmlSource(s.Relation, s.UsingClause, s.WhereClause)
	if err != nil {
		return nil, err
	}
	sc := &scope{cols: src.columns()}
	retExprs, retCols, err := c.returning(s.ReturningList, sc)
	if err != nil {
		return nil, err
	}
	nt := len(t.cols)
	return &compiled{cols: retCols, run: func(x *execCtx) (*pgwire.Result, error) {
		rows, err := src.run(x)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		var ret [][]any
		for _, r := range rows {
			key, lsn := r[nt].(string), uint64(r[nt+1].(int64))
			if seen[key] {
				continue
			}
			seen[key] = true
			x.ch.rowLSN(t.name, key, lsn)
			x.ch.op(engine.Op{Kind: engine.OpDelete, Table: t.name, Key: key})
			if retExprs != nil {
				rv, err := evalAll(x, retExprs, r)
				if err != nil {
					return nil, err
				}
				ret = append(ret, rv)
			}
		}
		return dmlResult("DELETE", len(seen), retCols, ret), nil
	}}, nil
}

// codeGeneratedAlways is generated_always: a value given for a GENERATED
// ALWAYS AS IDENTITY column.
const codeGeneratedAlways = "428C9"

// checkAlwaysInsert refuses, as PostgreSQL's rewriter does, an INSERT
// without OVERRIDING that gives a GENERATED ALWAYS identity column a
// value other than DEFAULT (COPY FROM is not checked: dumps restore
// through it).
func checkAlwaysInsert(t *target, colIdx []int, src *pg.Node) error {
	for j, ci := range colIdx {
		col := &t.def.Columns[ci]
		if col.Generated != 'a' {
			continue
		}
		allDefault := false
		if sel := src.GetSelectStmt(); sel != nil && len(sel.ValuesLists) > 0 && sel.Op == pg.SetOperation_SETOP_NONE {
			allDefault = true
			for _, l := range sel.ValuesLists {
				items := l.GetList().GetItems()
				if j >= len(items) || items[j].GetSetToDefault() == nil {
					allDefault = false
					break
				}
			}
		}
		if !allDefault {
			return &Error{Code: codeGeneratedAlways, Msg: fmt.Sprintf("cannot insert a non-DEFAULT value into column %q", col.Name),
				Det: fmt.Sprintf("Column %q is an identity column defined as GENERATED ALWAYS.", col.Name),
				Hnt: "Use OVERRIDING SYSTEM VALUE to override."}
		}
	}
	return nil
}

// nextvalExpr is DEFAULT for a serial or identity column of t: the next
// value of the column's sequence.
func nextvalExpr(t *target, col int) expr {
	return expr{t: t.cols[col].t, fn: func(x *execCtx, _ []any) (any, error) {
		tbl, ok := x.st.Table(t.name)
		if !ok {
			return nil, errorf(codeUndefinedTable, "relation %q does not exist", t.name)
		}
		return x.ch.nextval(tbl, t.name, col), nil
	}}
}
