package sql

import (
	"fmt"
	"strings"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/pgwire"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// compile plans st against state.
func (st *stmt) compile(state *engine.State) (cp *compiled, err error) {
	c := newCompiler(st.s.db, st.s, state)
	for i, oid := range st.declared {
		for len(c.params) <= i {
			c.params = append(c.params, tUnknown)
		}
		c.params[i] = oidType(oid)
	}
	defer func() {
		if r := recover(); r != nil {
			// A malformed tree the compiler did not expect must not take the
			// connection down; report it as an internal error.
			cp, err = nil, errorf(codeInternal, "internal error compiling statement: %v", r)
		}
	}()
	cp, err = c.compileStmt(st.node)
	if err != nil {
		return nil, err
	}
	cp.deps = c.deps
	cp.params = c.params
	return cp, nil
}

func oidType(oid uint32) typ {
	for k, info := range kindInfo {
		if info.oid == oid && oid != 0 && kind(k) != kArray {
			return typ{k: kind(k)}
		}
	}
	for k, o := range arrayOIDs {
		if o == oid {
			return typ{k: kArray, elem: k}
		}
	}
	return tUnknown
}

func (c *compiler) compileStmt(n *pg.Node) (*compiled, error) {
	switch v := n.Node.(type) {
	case *pg.Node_SelectStmt:
		p, err := c.compileSelect(v.SelectStmt, nil)
		if err != nil {
			return nil, err
		}
		return queryCompiled(p), nil
	case *pg.Node_InsertStmt:
		return c.compileInsert(v.InsertStmt)
	case *pg.Node_UpdateStmt:
		return c.compileUpdate(v.UpdateStmt)
	case *pg.Node_DeleteStmt:
		return c.compileDelete(v.DeleteStmt)
	case *pg.Node_ExplainStmt:
		return c.compileExplain(v.ExplainStmt)
	case *pg.Node_CreateStmt:
		return c.compileCreateTable(v.CreateStmt)
	case *pg.Node_DropStmt:
		return c.compileDrop(v.DropStmt)
	case *pg.Node_IndexStmt:
		return c.compileCreateIndex(v.IndexStmt)
	case *pg.Node_AlterTableStmt:
		return c.compileAlter(v.AlterTableStmt)
	case *pg.Node_RenameStmt:
		return c.compileRename(v.RenameStmt)
	case *pg.Node_TruncateStmt:
		return c.compileTruncate(v.TruncateStmt)
	case *pg.Node_CreateTableAsStmt:
		return nil, unsupported("CREATE TABLE AS")
	}
	return nil, unsupported(nodeName(n))
}

// queryCompiled wraps a plan as a row-returning statement.
func queryCompiled(p plan) *compiled {
	cols := p.columns()
	return &compiled{cols: cols, readOnly: true, run: func(x *execCtx) (*pgwire.Result, error) {
		rows, err := p.run(x)
		if err != nil {
			return nil, err
		}
		return rowsResult("SELECT", cols, rows), nil
	}}
}

// rowsResult converts internal rows to a pgwire result.
func rowsResult(verb string, cols []colInfo, rows [][]any) *pgwire.Result {
	out := make([][]any, len(rows))
	for i, r := range rows {
		w := make([]any, 0, len(cols))
		for j, col := range cols {
			if col.hidden {
				continue
			}
			w = append(w, toWire(r[j], col.t))
		}
		out[i] = w
	}
	tag := fmt.Sprintf("%s %d", verb, len(rows))
	if verb == "INSERT" {
		tag = fmt.Sprintf("INSERT 0 %d", len(rows))
	}
	return &pgwire.Result{Tag: tag, Columns: wireColumns(cols), Rows: out}
}

func (c *compiler) compileExplain(e *pg.ExplainStmt) (*compiled, error) {
	for _, o := range e.Options {
		if d := o.GetDefElem(); d != nil && strings.EqualFold(d.Defname, "analyze") {
			if a := d.Arg; a == nil || strings.EqualFold(setArgText([]*pg.Node{a}), "true") || strings.EqualFold(setArgText([]*pg.Node{a}), "on") {
				return nil, unsupported("EXPLAIN ANALYZE")
			}
		}
	}
	var p plan
	var err error
	var dml string
	switch v := e.Query.Node.(type) {
	case *pg.Node_SelectStmt:
		p, err = c.compileSelect(v.SelectStmt, nil)
	case *pg.Node_UpdateStmt:
		dml = "Update on " + v.UpdateStmt.Relation.Relname
		p, err = c.dmlSource(v.UpdateStmt.Relation, v.UpdateStmt.FromClause, v.UpdateStmt.WhereClause)
	case *pg.Node_DeleteStmt:
		dml = "Delete on " + v.DeleteStmt.Relation.Relname
		p, err = c.dmlSource(v.DeleteStmt.Relation, v.DeleteStmt.UsingClause, v.DeleteStmt.WhereClause)
	case *pg.Node_InsertStmt:
		dml = "Insert on " + v.InsertStmt.Relation.Relname
		p = oneRowNode{}
		if sel := v.InsertStmt.SelectStmt.GetSelectStmt(); sel != nil && len(sel.ValuesLists) == 0 {
			p, err = c.compileSelect(sel, nil)
		}
	default:
		return nil, unsupported("EXPLAIN of this statement")
	}
	if err != nil {
		return nil, err
	}
	ex := &explainer{}
	depth := 0
	if dml != "" {
		ex.add(0, "%s", dml)
		depth = 1
	}
	p.explain(ex, depth)
	cols := []colInfo{{name: "QUERY PLAN", t: tText}}
	return &compiled{cols: cols, readOnly: true, run: func(x *execCtx) (*pgwire.Result, error) {
		rows := make([][]any, len(ex.lines))
		for i, l := range ex.lines {
			rows[i] = []any{l}
		}
		res := rowsResult("EXPLAIN", cols, rows)
		res.Tag = "EXPLAIN"
		return res, nil
	}}, nil
}
