package sql

import (
	"context"
	"maps"
	"strconv"
	"strings"

	"github.com/heliosdb/heliosdb-lite/pgwire"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// reportedSettings are sent to the client in ParameterStatus messages.
var reportedSettings = []string{"server_version", "server_encoding", "client_encoding", "DateStyle", "IntervalStyle",
	"integer_datetimes", "standard_conforming_strings", "TimeZone", "application_name", "is_superuser", "session_authorization"}

var baseSettings = map[string]string{
	"server_version":                      "15.0",
	"server_version_num":                  "150000",
	"server_encoding":                     "UTF8",
	"client_encoding":                     "UTF8",
	"DateStyle":                           "ISO, MDY",
	"IntervalStyle":                       "postgres",
	"integer_datetimes":                   "on",
	"standard_conforming_strings":         "on",
	"TimeZone":                            "UTC",
	"application_name":                    "",
	"is_superuser":                        "on",
	"session_authorization":               "postgres",
	"extra_float_digits":                  "1",
	"search_path":                         "\"$user\", public",
	"statement_timeout":                   "0",
	"lock_timeout":                        "0",
	"idle_in_transaction_session_timeout": "0",
	"default_transaction_isolation":       "read committed",
	"transaction_isolation":               "read committed",
	"default_transaction_read_only":       "off",
	"transaction_read_only":               "off",
	"heliosdb.read_consistency":           "linearizable",
	"max_identifier_length":               "63",
	"lc_collate":                          "C.UTF-8",
	"lc_ctype":                            "C.UTF-8",
	"lc_messages":                         "C.UTF-8",
	"lc_monetary":                         "C.UTF-8",
	"lc_numeric":                          "C.UTF-8",
	"lc_time":                             "C.UTF-8",
	"max_connections":                     "1000",
	"block_size":                          "8192",
	"synchronous_commit":                  "on",
	"client_min_messages":                 "notice",
	"bytea_output":                        "hex",
	"datestyle":                           "ISO, MDY",
	"timezone":                            "UTC",
	"work_mem":                            "4MB",
	"maintenance_work_mem":                "64MB",
	"row_security":                        "on",
	"jit":                                 "off",
	"geqo":                                "on",
	"enable_seqscan":                      "on",
	"enable_indexscan":                    "on",
	"session_replication_role":            "origin",
	"xmloption":                           "content",
	"check_function_bodies":               "on",
	"default_tablespace":                  "",
	"temp_tablespaces":                    "",
	"default_with_oids":                   "off",
	"escape_string_warning":               "on",
	"array_nulls":                         "on",
	"backslash_quote":                     "safe_encoding",
	"wal_level":                           "replica",
	"fsync":                               "on",
	"port":                                "5432",
	"listen_addresses":                    "localhost",
	"data_directory":                      "",
	"shared_buffers":                      "128MB",
	"password_encryption":                 "scram-sha-256",
	"ssl":                                 "off",
	"in_hot_standby":                      "off",
	"default_text_search_config":          "pg_catalog.english",
	"cursor_tuple_fraction":               "0.1",
	"effective_cache_size":                "4GB",
	"random_page_cost":                    "4",
	"search_path_default":                 "",
	"plan_cache_mode":                     "auto",
	"tcp_keepalives_idle":                 "0",
	"vacuum_cost_delay":                   "0",
	"track_io_timing":                     "off",
	"log_statement":                       "none",
}

// canonicalSetting maps a case-insensitive parameter name to its stored
// spelling.
func canonicalSetting(name string) string {
	l := strings.ToLower(name)
	switch l {
	case "datestyle":
		return "DateStyle"
	case "timezone":
		return "TimeZone"
	case "intervalstyle":
		return "IntervalStyle"
	}
	return l
}

func defaultSettings(over map[string]string) map[string]string {
	m := maps.Clone(baseSettings)
	delete(m, "datestyle")
	delete(m, "timezone")
	delete(m, "search_path_default")
	for k, v := range over {
		m[canonicalSetting(k)] = v
	}
	if v, ok := over["server_version"]; ok && over["server_version_num"] == "" {
		if f := strings.Fields(v); len(f) > 0 {
			parts := strings.Split(f[0], ".")
			if maj, err := strconv.Atoi(parts[0]); err == nil {
				m["server_version_num"] = strconv.Itoa(maj * 10000)
			}
		}
	}
	return m
}

func (s *Session) getSetting(name string) (string, bool) {
	l := canonicalSetting(name)
	if l == "heliosdb.replication_lag" {
		return s.db.replicationLag(), true
	}
	if l == "transaction_isolation" && s.tx == nil {
		l = "default_transaction_isolation"
	}
	v, ok := s.settings[l]
	if !ok && strings.Contains(l, ".") {
		return "", false
	}
	return v, ok
}

func (s *Session) setSetting(name, value string, local bool) error {
	k := canonicalSetting(name)
	if _, ok := s.settings[k]; !ok && !strings.Contains(k, ".") {
		return errorf(codeUndefinedObject, "unrecognized configuration parameter %q", name)
	}
	switch k {
	case "heliosdb.read_consistency":
		switch strings.ToLower(value) {
		case "linearizable", "leader_lease", "local":
			value = strings.ToLower(value)
		default:
			return errorf(codeInvalidParam, "invalid value for parameter \"heliosdb.read_consistency\": %q", value).withHint("Available values: linearizable, leader_lease, local.")
		}
	case "server_version", "server_encoding", "server_version_num", "integer_datetimes", "max_identifier_length", "block_size", "heliosdb.replication_lag", "heliosdb.node_id":
		return errorf(codeCantChangeRuntime, "parameter %q cannot be changed", k)
	case "client_encoding":
		u := strings.ToUpper(strings.ReplaceAll(value, "-", ""))
		if u != "UTF8" && u != "UNICODE" {
			return errorf(codeFeature, "conversion between %s and UTF8 is not supported", value)
		}
		value = "UTF8"
	case "transaction_isolation", "default_transaction_isolation":
		value = strings.ToLower(value)
	case "TimeZone":
		switch strings.ToUpper(value) {
		case "UTC", "GMT", "Z", "ETC/UTC", "+00", "0", "00:00":
		default:
			// Only UTC is rendered; accept others for client compatibility.
		}
	case "transaction_read_only":
		if s.tx != nil {
			s.tx.readOnly = value == "on" || value == "true"
		}
	}
	if local && s.tx == nil {
		// PostgreSQL warns that SET LOCAL outside a transaction block
		// has no effect (it would last until the statement's end).
		return nil
	}
	if local && s.tx != nil {
		if s.tx.savedLocal == nil {
			s.tx.savedLocal = map[string]string{}
		}
		if _, saved := s.tx.savedLocal[k]; !saved {
			s.tx.savedLocal[k] = s.settings[k]
		}
	}
	s.settings[k] = value
	return nil
}

func (e *Error) withHint(h string) *Error { e.Hnt = h; return e }

// setArgText renders a SET argument list as PostgreSQL stores it.
func setArgText(args []*pg.Node) string {
	var parts []string
	for _, a := range args {
		switch v := a.Node.(type) {
		case *pg.Node_AConst:
			switch c := v.AConst.Val.(type) {
			case *pg.A_Const_Sval:
				parts = append(parts, c.Sval.Sval)
			case *pg.A_Const_Ival:
				parts = append(parts, strconv.Itoa(int(c.Ival.Ival)))
			case *pg.A_Const_Fval:
				parts = append(parts, c.Fval.Fval)
			case *pg.A_Const_Boolval:
				parts = append(parts, map[bool]string{true: "on", false: "off"}[c.Boolval.Boolval])
			}
		case *pg.Node_TypeCast:
			parts = append(parts, setArgText([]*pg.Node{v.TypeCast.Arg}))
		case *pg.Node_String_:
			parts = append(parts, v.String_.Sval)
		default:
			parts = append(parts, "")
		}
	}
	return strings.Join(parts, ", ")
}

func utilityColumns(n *pg.Node) []pgwire.Column {
	if v := n.GetVariableShowStmt(); v != nil {
		name := strings.ToLower(v.Name)
		if name == "all" {
			return []pgwire.Column{{Name: "name", TypeOID: 25, TypeSize: -1, TypeMod: -1}, {Name: "setting", TypeOID: 25, TypeSize: -1, TypeMod: -1}, {Name: "description", TypeOID: 25, TypeSize: -1, TypeMod: -1}}
		}
		if name == "transaction_isolation" || name == "transaction isolation level" {
			name = "transaction_isolation"
		}
		return []pgwire.Column{{Name: name, TypeOID: 25, TypeSize: -1, TypeMod: -1}}
	}
	if c := n.GetCopyStmt(); c != nil {
		return nil
	}
	return nil
}

// utility runs session and transaction control statements.
func (s *Session) utility(ctx context.Context, st *stmt, params []any) (*pgwire.Result, error) {
	switch v := st.node.Node.(type) {
	case *pg.Node_TransactionStmt:
		return s.transactionStmt(ctx, v.TransactionStmt)
	case *pg.Node_VariableSetStmt:
		return s.setStmt(v.VariableSetStmt)
	case *pg.Node_VariableShowStmt:
		name := strings.ToLower(v.VariableShowStmt.Name)
		cols := utilityColumns(st.node)
		if name == "all" {
			res := &pgwire.Result{Columns: cols}
			for _, k := range sortedKeys(s.settings) {
				res.Rows = append(res.Rows, []any{k, s.settings[k], ""})
			}
			res.Tag = "SHOW"
			return res, nil
		}
		if name == "transaction isolation level" {
			name = "transaction_isolation"
		}
		val, ok := s.getSetting(name)
		if !ok {
			return nil, errorf(codeUndefinedObject, "unrecognized configuration parameter %q", v.VariableShowStmt.Name)
		}
		return &pgwire.Result{Tag: "SHOW", Columns: cols, Rows: [][]any{{val}}}, nil
	case *pg.Node_VacuumStmt:
		if v.VacuumStmt.IsVacuumcmd {
			return &pgwire.Result{Tag: "VACUUM"}, nil
		}
		return &pgwire.Result{Tag: "ANALYZE"}, nil
	case *pg.Node_CheckPointStmt:
		return &pgwire.Result{Tag: "CHECKPOINT"}, nil
	case *pg.Node_DiscardStmt:
		return &pgwire.Result{Tag: "DISCARD ALL"}, nil
	case *pg.Node_DeallocateStmt:
		return &pgwire.Result{Tag: "DEALLOCATE"}, nil
	case *pg.Node_ListenStmt:
		return &pgwire.Result{Tag: "LISTEN"}, nil
	case *pg.Node_UnlistenStmt:
		return &pgwire.Result{Tag: "UNLISTEN"}, nil
	case *pg.Node_NotifyStmt:
		return &pgwire.Result{Tag: "NOTIFY"}, nil
	case *pg.Node_CommentStmt:
		return &pgwire.Result{Tag: "COMMENT"}, nil
	case *pg.Node_LockStmt:
		return &pgwire.Result{Tag: "LOCK TABLE"}, nil
	case *pg.Node_CopyStmt:
		return s.copyStmt(ctx, v.CopyStmt)
	case *pg.Node_CreateSchemaStmt:
		if v.CreateSchemaStmt.IfNotExists || v.CreateSchemaStmt.Schemaname == "public" {
			return &pgwire.Result{Tag: "CREATE SCHEMA"}, nil
		}
		return nil, unsupported("CREATE SCHEMA")
	case *pg.Node_CreateExtensionStmt:
		return nil, unsupported("CREATE EXTENSION")
	case *pg.Node_ReindexStmt:
		return &pgwire.Result{Tag: "REINDEX"}, nil
	}
	return nil, unsupported(strings.TrimSuffix(nodeName(st.node), "Stmt") + " statement")
}

func (s *Session) transactionStmt(ctx context.Context, t *pg.TransactionStmt) (*pgwire.Result, error) {
	switch t.Kind {
	case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
		switch {
		case s.tx != nil && s.tx.implicit:
			// BEGIN in a multi-statement Query: the statements before it
			// join the regular block it starts, as in PostgreSQL.
			s.tx.implicit = false
		case s.tx != nil:
			// PostgreSQL warns and continues.
			return &pgwire.Result{Tag: "BEGIN"}, nil
		default:
			if err := s.begin(ctx); err != nil {
				return nil, err
			}
		}
		for _, o := range t.Options {
			if d := o.GetDefElem(); d != nil {
				switch d.Defname {
				case "transaction_read_only":
					if c := d.Arg.GetAConst(); c != nil && c.GetIval().GetIval() == 1 {
						s.tx.readOnly = true
					}
				case "transaction_isolation":
					s.tx.savedLocal = map[string]string{"transaction_isolation": s.settings["transaction_isolation"]}
					s.settings["transaction_isolation"] = strings.ToLower(setArgText([]*pg.Node{d.Arg}))
				}
			}
		}
		return &pgwire.Result{Tag: "BEGIN"}, nil
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT:
		if s.tx == nil {
			return &pgwire.Result{Tag: "COMMIT"}, nil
		}
		failed := s.tx.failed
		if err := s.commit(ctx); err != nil {
			return nil, err
		}
		if failed {
			return &pgwire.Result{Tag: "ROLLBACK"}, nil
		}
		return &pgwire.Result{Tag: "COMMIT"}, nil
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		if s.tx != nil {
			s.endLocal(s.tx)
		}
		s.tx = nil
		s.releaseLocks(0)
		return &pgwire.Result{Tag: "ROLLBACK"}, nil
	case pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT, pg.TransactionStmtKind_TRANS_STMT_RELEASE, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return nil, unsupported("savepoints")
	}
	return nil, unsupported("two-phase commit")
}

func (s *Session) setStmt(v *pg.VariableSetStmt) (*pgwire.Result, error) {
	switch v.Kind {
	case pg.VariableSetKind_VAR_SET_VALUE, pg.VariableSetKind_VAR_SET_CURRENT:
		if err := s.setSetting(v.Name, setArgText(v.Args), v.IsLocal); err != nil {
			return nil, err
		}
	case pg.VariableSetKind_VAR_SET_DEFAULT, pg.VariableSetKind_VAR_RESET:
		def, ok := baseSettings[canonicalSetting(v.Name)]
		if over, ok2 := s.db.cfg.Settings[v.Name]; ok2 {
			def, ok = over, true
		}
		if !ok && !strings.Contains(v.Name, ".") {
			return nil, errorf(codeUndefinedObject, "unrecognized configuration parameter %q", v.Name)
		}
		if err := s.setSetting(v.Name, def, v.IsLocal); err != nil {
			return nil, err
		}
	case pg.VariableSetKind_VAR_RESET_ALL:
		keepAuth := s.settings["session_authorization"]
		s.settings = defaultSettings(s.db.cfg.Settings)
		s.settings["session_authorization"] = keepAuth
		return &pgwire.Result{Tag: "RESET"}, nil
	case pg.VariableSetKind_VAR_SET_MULTI:
		// SET TRANSACTION ... / SET SESSION CHARACTERISTICS.
		for _, a := range v.Args {
			if d := a.GetDefElem(); d != nil {
				switch d.Defname {
				case "transaction_isolation":
					name := "transaction_isolation"
					if v.Name == "SESSION CHARACTERISTICS" {
						name = "default_transaction_isolation"
					}
					_ = s.setSetting(name, setArgText([]*pg.Node{d.Arg}), v.Name != "SESSION CHARACTERISTICS")
				case "transaction_read_only":
					ro := d.Arg.GetAConst().GetIval().GetIval() == 1
					if s.tx != nil {
						s.tx.readOnly = ro
					}
				}
			}
		}
	}
	if v.Kind == pg.VariableSetKind_VAR_RESET {
		return &pgwire.Result{Tag: "RESET"}, nil
	}
	return &pgwire.Result{Tag: "SET"}, nil
}
