package sql

import (
	"fmt"
	"strings"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/pgwire"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// ddl wraps a function that emits DDL ops as a compiled statement.
func ddl(tag string, f func(x *execCtx) error) *compiled {
	return &compiled{run: func(x *execCtx) (*pgwire.Result, error) {
		if err := f(x); err != nil {
			return nil, err
		}
		return &pgwire.Result{Tag: tag}, nil
	}}
}

// deparseExpr renders an expression as SQL text (stored defaults).
func deparseExpr(n *pg.Node) (string, error) {
	tree, err := pg.Parse("SELECT 1")
	if err != nil {
		return "", err
	}
	tree.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val = n
	s, err := pg.Deparse(tree)
	if err != nil {
		return "", errorf(codeInternal, "cannot store expression: %v", err)
	}
	return strings.TrimPrefix(s, "SELECT "), nil
}

func (c *compiler) columnDef(cd *pg.ColumnDef, table string) (engine.ColumnDef, []string, error) {
	var flags []string // "primary", "unique:<name>"
	t, err := typeFromNode(cd.TypeName)
	if err != nil {
		return engine.ColumnDef{}, nil, withPos(err, cd.TypeName.Location)
	}
	et, ok := engineType(t.k)
	if !ok {
		return engine.ColumnDef{}, nil, unsupported(fmt.Sprintf("columns of type %s", t))
	}
	col := engine.ColumnDef{Name: cd.Colname, Type: et, Length: t.len, Precision: t.prec, Scale: t.scale, NotNull: cd.IsNotNull}
	names := strList(cd.TypeName.Names)
	if isSerialName(names[len(names)-1]) {
		col.Identity, col.NotNull = true, true
	}
	if cd.RawDefault != nil {
		if col.Default, err = deparseExpr(cd.RawDefault); err != nil {
			return col, nil, err
		}
	}
	for _, cn := range cd.Constraints {
		con := cn.GetConstraint()
		switch con.Contype {
		case pg.ConstrType_CONSTR_NOTNULL:
			col.NotNull = true
		case pg.ConstrType_CONSTR_NULL:
			col.NotNull = false
		case pg.ConstrType_CONSTR_DEFAULT:
			if col.Default, err = deparseExpr(con.RawExpr); err != nil {
				return col, nil, err
			}
		case pg.ConstrType_CONSTR_IDENTITY:
			col.Identity, col.NotNull = true, true
			col.Generated = 'd'
			if con.GeneratedWhen == "a" {
				col.Generated = 'a'
			}
		case pg.ConstrType_CONSTR_PRIMARY:
			col.NotNull = true
			flags = append(flags, "primary:"+con.Conname)
		case pg.ConstrType_CONSTR_UNIQUE:
			flags = append(flags, "unique:"+con.Conname)
		case pg.ConstrType_CONSTR_CHECK:
			return col, nil, unsupported("CHECK constraints")
		case pg.ConstrType_CONSTR_FOREIGN:
			return col, nil, unsupported("FOREIGN KEY constraints")
		case pg.ConstrType_CONSTR_GENERATED:
			return col, nil, unsupported("generated columns")
		case pg.ConstrType_CONSTR_ATTR_DEFERRABLE, pg.ConstrType_CONSTR_ATTR_NOT_DEFERRABLE, pg.ConstrType_CONSTR_ATTR_DEFERRED, pg.ConstrType_CONSTR_ATTR_IMMEDIATE:
		default:
			return col, nil, unsupported("constraint " + con.Contype.String())
		}
	}
	if col.Default != "" {
		e, err := c.compileDefault(col.Default)
		if err != nil {
			return col, nil, err
		}
		if _, err := c.coerce(e, t); err != nil && e.konst {
			return col, nil, err
		}
	}
	return col, flags, nil
}

func uniqueName(def *engine.TableDef, cols []int, suffix string, taken func(string) bool) string {
	parts := []string{def.Name}
	for _, ci := range cols {
		parts = append(parts, def.Columns[ci].Name)
	}
	base := strings.Join(parts, "_") + "_" + suffix
	if len(base) > 63 {
		base = base[:63]
	}
	name := base
	for i := 1; taken(name); i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	return name
}

// relationNames returns every table and index name in st (they share a
// namespace in PostgreSQL).
func relationNames(st *engine.State) map[string]string {
	out := map[string]string{}
	for _, n := range st.TableNames() {
		out[n] = n
		t, _ := st.Table(n)
		d := t.Def()
		if len(d.PrimaryKey) > 0 {
			out[pkName(d)] = n
		}
		for _, ix := range d.Indexes {
			out[ix.Name] = n
		}
	}
	return out
}

func (c *compiler) compileCreateTable(s *pg.CreateStmt) (*compiled, error) {
	rv := s.Relation
	if err := checkSchema(rv.Schemaname); err != nil {
		return nil, err
	}
	if rv.Relpersistence == "t" {
		// Temporary tables are created as ordinary ones.
	}
	if len(s.InhRelations) > 0 || s.Partspec != nil || s.OfTypename != nil {
		return nil, unsupported("table inheritance and partitioning")
	}
	name := rv.Relname
	if _, exists := c.table(name); exists {
		if s.IfNotExists {
			return ddl("CREATE TABLE", func(*execCtx) error { return nil }), nil
		}
		return nil, withPos(errorf(codeDuplicateTable, "relation %q already exists", name), rv.Location)
	}
	def := &engine.TableDef{Name: name}
	type pending struct {
		cols []string
		name string
		pk   bool
	}
	var cons []pending
	for _, el := range s.TableElts {
		switch v := el.Node.(type) {
		case *pg.Node_ColumnDef:
			col, flags, err := c.columnDef(v.ColumnDef, name)
			if err != nil {
				return nil, err
			}
			def.Columns = append(def.Columns, col)
			for _, f := range flags {
				kind, cname, _ := strings.Cut(f, ":")
				cons = append(cons, pending{cols: []string{col.Name}, name: cname, pk: kind == "primary"})
			}
		case *pg.Node_Constraint:
			con := v.Constraint
			switch con.Contype {
			case pg.ConstrType_CONSTR_PRIMARY, pg.ConstrType_CONSTR_UNIQUE:
				cons = append(cons, pending{cols: strList(con.Keys), name: con.Conname, pk: con.Contype == pg.ConstrType_CONSTR_PRIMARY})
			case pg.ConstrType_CONSTR_CHECK:
				return nil, unsupported("CHECK constraints")
			case pg.ConstrType_CONSTR_FOREIGN:
				return nil, unsupported("FOREIGN KEY constraints")
			default:
				return nil, unsupported("table constraint " + con.Contype.String())
			}
		case *pg.Node_TableLikeClause:
			return nil, unsupported("CREATE TABLE ... LIKE")
		}
	}
	if len(def.Columns) == 0 {
		return nil, unsupported("tables without columns")
	}
	taken := relationNames(c.st)
	taken[name] = name
	isTaken := func(n string) bool { _, ok := taken[n]; return ok }
	for _, p := range cons {
		var cols []int
		for _, cn := range p.cols {
			i := def.ColumnIndex(cn)
			if i < 0 {
				return nil, errorf(codeUndefinedColumn, "column %q named in key does not exist", cn)
			}
			cols = append(cols, i)
		}
		if p.pk {
			if len(def.PrimaryKey) > 0 {
				return nil, errorf(codeInvalidTableDef, "multiple primary keys for table %q are not allowed", name)
			}
			def.PrimaryKey = cols
			def.PKName = p.name
			if def.PKName == "" {
				def.PKName = name + "_pkey"
			}
			taken[def.PKName] = name
			for _, ci := range cols {
				def.Columns[ci].NotNull = true
			}
			continue
		}
		ixName := p.name
		if ixName == "" {
			ixName = uniqueName(def, cols, "key", isTaken)
		}
		taken[ixName] = name
		def.Indexes = append(def.Indexes, engine.IndexDef{Name: ixName, Columns: cols, Unique: true, Constraint: true})
	}
	if err := def.Validate(); err != nil {
		return nil, err
	}
	return ddl("CREATE TABLE", func(x *execCtx) error {
		x.ch.op(engine.Op{Kind: engine.OpCreateTable, Table: name, Def: def})
		return nil
	}), nil
}

func (c *compiler) compileDrop(s *pg.DropStmt) (*compiled, error) {
	var tag string
	switch s.RemoveType {
	case pg.ObjectType_OBJECT_TABLE:
		tag = "DROP TABLE"
	case pg.ObjectType_OBJECT_INDEX:
		tag = "DROP INDEX"
	case pg.ObjectType_OBJECT_VIEW:
		return nil, unsupported("views")
	case pg.ObjectType_OBJECT_SEQUENCE:
		return nil, unsupported("sequences")
	case pg.ObjectType_OBJECT_SCHEMA:
		return nil, unsupported("DROP SCHEMA")
	default:
		return nil, unsupported("DROP " + strings.TrimPrefix(s.RemoveType.String(), "OBJECT_"))
	}
	var ops []engine.Op
	rels := relationNames(c.st)
	for _, obj := range s.Objects {
		names := strList(obj.GetList().GetItems())
		if len(names) == 0 {
			continue
		}
		if len(names) > 1 {
			if err := checkSchema(names[len(names)-2]); err != nil {
				if s.MissingOk {
					continue
				}
				return nil, err
			}
		}
		name := names[len(names)-1]
		if tag == "DROP TABLE" {
			if _, ok := c.table(name); !ok {
				if s.MissingOk {
					continue
				}
				return nil, errorf(codeUndefinedTable, "table %q does not exist", name)
			}
			ops = append(ops, engine.Op{Kind: engine.OpDropTable, Table: name})
			continue
		}
		tbl, ok := rels[name]
		if !ok || tbl == name {
			if s.MissingOk {
				continue
			}
			return nil, errorf(codeUndefinedObject, "index %q does not exist", name)
		}
		t, _ := c.table(tbl)
		if i := t.Def().IndexByName(name); i < 0 || t.Def().Indexes[i].Constraint {
			return nil, &Error{Code: "2BP01", Msg: fmt.Sprintf("cannot drop index %s because constraint %s on table %s requires it", name, name, tbl),
				Hnt: fmt.Sprintf("You can drop constraint %s on table %s instead.", name, tbl)}
		}
		ops = append(ops, engine.Op{Kind: engine.OpDropIndex, Table: tbl, Name: name})
	}
	return ddl(tag, func(x *execCtx) error {
		for _, op := range ops {
			x.ch.op(op)
		}
		return nil
	}), nil
}

func (c *compiler) compileCreateIndex(s *pg.IndexStmt) (*compiled, error) {
	if err := checkSchema(s.Relation.Schemaname); err != nil {
		return nil, err
	}
	if s.WhereClause != nil {
		return nil, unsupported("partial indexes")
	}
	if s.AccessMethod != "" && s.AccessMethod != "btree" {
		return nil, unsupported("index access method " + s.AccessMethod)
	}
	tbl, ok := c.table(s.Relation.Relname)
	if !ok {
		return nil, withPos(errorf(codeUndefinedTable, "relation %q does not exist", s.Relation.Relname), s.Relation.Location)
	}
	def := tbl.Def()
	var cols []int
	for _, p := range s.IndexParams {
		el := p.GetIndexElem()
		if el.Expr != nil {
			return nil, unsupported("indexes on expressions")
		}
		i := def.ColumnIndex(el.Name)
		if i < 0 {
			return nil, errorf(codeUndefinedColumn, "column %q does not exist", el.Name)
		}
		cols = append(cols, i)
	}
	rels := relationNames(c.st)
	name := s.Idxname
	if name == "" {
		name = uniqueName(def, cols, "idx", func(n string) bool { _, ok := rels[n]; return ok })
	} else if _, exists := rels[name]; exists {
		if s.IfNotExists {
			return ddl("CREATE INDEX", func(*execCtx) error { return nil }), nil
		}
		return nil, errorf(codeDuplicateTable, "relation %q already exists", name)
	}
	ix := &engine.IndexDef{Name: name, Columns: cols, Unique: s.Unique}
	table := def.Name
	return ddl("CREATE INDEX", func(x *execCtx) error {
		x.ch.op(engine.Op{Kind: engine.OpCreateIndex, Table: table, Index: ix})
		return nil
	}), nil
}

func (c *compiler) compileAlter(s *pg.AlterTableStmt) (*compiled, error) {
	if err := checkSchema(s.Relation.Schemaname); err != nil {
		return nil, err
	}
	if s.Objtype == pg.ObjectType_OBJECT_INDEX {
		return nil, unsupported("ALTER INDEX")
	}
	tbl, ok := c.table(s.Relation.Relname)
	if !ok {
		if s.MissingOk {
			return ddl("ALTER TABLE", func(*execCtx) error { return nil }), nil
		}
		return nil, withPos(errorf(codeUndefinedTable, "relation %q does not exist", s.Relation.Relname), s.Relation.Location)
	}
	name := tbl.Def().Name
	def := tbl.Def().Clone() // working copy to resolve later commands
	rels := relationNames(c.st)
	var alters []*engine.Alter
	for _, cn := range s.Cmds {
		cmd := cn.GetAlterTableCmd()
		switch cmd.Subtype {
		case pg.AlterTableType_AT_AddColumn:
			cd := cmd.Def.GetColumnDef()
			col, flags, err := c.columnDef(cd, name)
			if err != nil {
				return nil, err
			}
			if def.ColumnIndex(col.Name) >= 0 {
				if cmd.MissingOk {
					continue
				}
				return nil, errorf(codeDuplicateColumn, "column %q of relation %q already exists", col.Name, name)
			}
			if col.Identity {
				return nil, unsupported("adding serial or identity columns to existing tables")
			}
			var fill any
			if col.Default != "" {
				e, err := c.compileDefault(col.Default)
				if err != nil {
					return nil, err
				}
				if !e.konst {
					return nil, unsupported("volatile defaults in ADD COLUMN")
				}
				t := colType(&col)
				if fill, err = castValue(e.val, e.t, t, false, c.now()); err != nil {
					return nil, err
				}
				if s, ok := fill.(string); ok && (t.k == kVarchar || t.k == kChar) {
					if fill, err = applyLength(s, t, false); err != nil {
						return nil, err
					}
				}
			}
			alters = append(alters, &engine.Alter{Kind: engine.AlterAddColumn, Column: col, Fill: fill})
			def.Columns = append(def.Columns, col)
			for _, f := range flags {
				kind, cname, _ := strings.Cut(f, ":")
				a, err := c.addConstraint(def, rels, kind == "primary", cname, []string{col.Name})
				if err != nil {
					return nil, err
				}
				alters = append(alters, a)
			}
		case pg.AlterTableType_AT_DropColumn:
			if def.ColumnIndex(cmd.Name) < 0 {
				if cmd.MissingOk {
					continue
				}
				return nil, errorf(codeUndefinedColumn, "column %q of relation %q does not exist", cmd.Name, name)
			}
			alters = append(alters, &engine.Alter{Kind: engine.AlterDropColumn, Name: cmd.Name})
			i := def.ColumnIndex(cmd.Name)
			def.Columns = append(def.Columns[:i:i], def.Columns[i+1:]...)
		case pg.AlterTableType_AT_ColumnDefault:
			i := def.ColumnIndex(cmd.Name)
			if i < 0 {
				return nil, errorf(codeUndefinedColumn, "column %q of relation %q does not exist", cmd.Name, name)
			}
			col := def.Columns[i]
			col.Default = ""
			if cmd.Def != nil {
				text, err := deparseExpr(cmd.Def)
				if err != nil {
					return nil, err
				}
				if _, err := c.compileDefault(text); err != nil {
					return nil, err
				}
				col.Default = text
			}
			alters = append(alters, &engine.Alter{Kind: engine.AlterSetDefault, Name: cmd.Name, Column: col})
		case pg.AlterTableType_AT_SetNotNull, pg.AlterTableType_AT_DropNotNull:
			i := def.ColumnIndex(cmd.Name)
			if i < 0 {
				return nil, errorf(codeUndefinedColumn, "column %q of relation %q does not exist", cmd.Name, name)
			}
			set := cmd.Subtype == pg.AlterTableType_AT_SetNotNull
			if !set {
				for _, pk := range def.PrimaryKey {
					if pk == i {
						return nil, errorf(codeInvalidTableDef, "column %q is in a primary key", cmd.Name)
					}
				}
			}
			alters = append(alters, &engine.Alter{Kind: engine.AlterSetNotNull, Name: cmd.Name, Flag: set})
		case pg.AlterTableType_AT_AddConstraint:
			con := cmd.Def.GetConstraint()
			switch con.Contype {
			case pg.ConstrType_CONSTR_PRIMARY, pg.ConstrType_CONSTR_UNIQUE:
				a, err := c.addConstraint(def, rels, con.Contype == pg.ConstrType_CONSTR_PRIMARY, con.Conname, strList(con.Keys))
				if err != nil {
					return nil, err
				}
				alters = append(alters, a)
			case pg.ConstrType_CONSTR_FOREIGN:
				return nil, unsupported("FOREIGN KEY constraints")
			case pg.ConstrType_CONSTR_CHECK:
				return nil, unsupported("CHECK constraints")
			default:
				return nil, unsupported("constraint " + con.Contype.String())
			}
		case pg.AlterTableType_AT_AlterColumnType:
			return nil, unsupported("ALTER COLUMN TYPE")
		default:
			return nil, unsupported("ALTER TABLE " + strings.TrimPrefix(cmd.Subtype.String(), "AT_"))
		}
	}
	return ddl("ALTER TABLE", func(x *execCtx) error {
		for _, a := range alters {
			x.ch.op(engine.Op{Kind: engine.OpAlterTable, Table: name, Alter: a})
		}
		return nil
	}), nil
}

func (c *compiler) addConstraint(def *engine.TableDef, rels map[string]string, pk bool, cname string, colNames []string) (*engine.Alter, error) {
	var cols []int
	for _, cn := range colNames {
		i := def.ColumnIndex(cn)
		if i < 0 {
			return nil, errorf(codeUndefinedColumn, "column %q of relation %q does not exist", cn, def.Name)
		}
		cols = append(cols, i)
	}
	if pk {
		if len(def.PrimaryKey) > 0 {
			return nil, errorf(codeInvalidTableDef, "multiple primary keys for table %q are not allowed", def.Name)
		}
		if cname == "" {
			cname = def.Name + "_pkey"
		}
		if _, taken := rels[cname]; taken {
			return nil, errorf(codeDuplicateTable, "relation %q already exists", cname)
		}
		rels[cname] = def.Name
		def.PrimaryKey = cols
		def.PKName = cname
		return &engine.Alter{Kind: engine.AlterAddPrimary, Columns: cols, NewName: cname}, nil
	}
	if cname == "" {
		cname = uniqueName(def, cols, "key", func(n string) bool { _, ok := rels[n]; return ok })
	}
	rels[cname] = def.Name
	def.Indexes = append(def.Indexes, engine.IndexDef{Name: cname, Columns: cols, Unique: true, Constraint: true})
	return &engine.Alter{Kind: engine.AlterAddUnique, Columns: cols, NewName: cname}, nil
}

func (c *compiler) compileRename(s *pg.RenameStmt) (*compiled, error) {
	if s.Relation == nil {
		return nil, unsupported("this RENAME")
	}
	tbl, ok := c.table(s.Relation.Relname)
	if !ok {
		if s.MissingOk {
			return ddl("ALTER TABLE", func(*execCtx) error { return nil }), nil
		}
		return nil, errorf(codeUndefinedTable, "relation %q does not exist", s.Relation.Relname)
	}
	name := tbl.Def().Name
	var a *engine.Alter
	switch s.RenameType {
	case pg.ObjectType_OBJECT_TABLE:
		if _, exists := c.table(s.Newname); exists {
			return nil, errorf(codeDuplicateTable, "relation %q already exists", s.Newname)
		}
		a = &engine.Alter{Kind: engine.AlterRenameTable, NewName: s.Newname}
	case pg.ObjectType_OBJECT_COLUMN:
		if tbl.Def().ColumnIndex(s.Subname) < 0 {
			return nil, errorf(codeUndefinedColumn, "column %q does not exist", s.Subname)
		}
		a = &engine.Alter{Kind: engine.AlterRenameColumn, Name: s.Subname, NewName: s.Newname}
	default:
		return nil, unsupported("renaming this object")
	}
	return ddl("ALTER TABLE", func(x *execCtx) error {
		x.ch.op(engine.Op{Kind: engine.OpAlterTable, Table: name, Alter: a})
		return nil
	}), nil
}

func (c *compiler) compileTruncate(s *pg.TruncateStmt) (*compiled, error) {
	var ops []engine.Op
	for _, r := range s.Relations {
		rv := r.GetRangeVar()
		if err := checkSchema(rv.Schemaname); err != nil {
			return nil, err
		}
		tbl, ok := c.table(rv.Relname)
		if !ok {
			return nil, errorf(codeUndefinedTable, "relation %q does not exist", rv.Relname)
		}
		ops = append(ops, engine.Op{Kind: engine.OpTruncate, Table: rv.Relname})
		if s.RestartSeqs {
			for i, col := range tbl.Def().Columns {
				if col.Identity {
					ops = append(ops, engine.Op{Kind: engine.OpSetSequence, Table: rv.Relname, Seq: i, Value: 0})
				}
			}
		}
	}
	return ddl("TRUNCATE TABLE", func(x *execCtx) error {
		for _, op := range ops {
			x.ch.op(op)
		}
		return nil
	}), nil
}
