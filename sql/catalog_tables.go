package sql

import (
	"strings"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// typeRows lists the types pg_type shows: every kind with its array.
var typeKinds = []kind{kBool, kBytea, kChar1, kName, kInt8, kInt2, kInt4, kRegproc, kText, kOid, kJSON, kFloat4, kFloat8,
	kUnknown, kChar, kVarchar, kDate, kTimestamp, kTimestamptz, kInterval, kNumeric, kRegclass, kRegtype, kUUID, kJSONB, kVoid, kRecord}

func typname(k kind) string {
	switch k {
	case kBool:
		return "bool"
	case kChar1:
		return "char"
	case kChar:
		return "bpchar"
	case kVarchar:
		return "varchar"
	case kFloat4:
		return "float4"
	case kFloat8:
		return "float8"
	case kInt2:
		return "int2"
	case kInt4:
		return "int4"
	case kInt8:
		return "int8"
	case kTimestamptz:
		return "timestamptz"
	case kTimestamp:
		return "timestamp"
	}
	return strings.Trim(kindInfo[k].name, "\"")
}

func typCategory(k kind) string {
	switch {
	case k.isInt() || k == kFloat4 || k == kFloat8 || k == kNumeric || k.isOidLike() || k == kRegproc:
		return "N"
	case k == kBool:
		return "B"
	case k == kDate || k.isTime():
		return "D"
	case k == kInterval:
		return "T"
	case k.isString():
		return "S"
	case k == kUnknown || k == kVoid || k == kRecord:
		return "P"
	}
	return "U"
}

func init() {
	defineCatalog("pg_catalog", "pg_namespace", "oid:oid nspname:name nspowner:oid nspacl:texta", func(x *execCtx) [][]any {
		return [][]any{{int64(oidPgCatalog), "pg_catalog", int64(10), nil}, {int64(oidPublic), "public", int64(10), nil},
			{int64(oidInfoSchema), "information_schema", int64(10), nil}, {int64(oidHeliosdb), "heliosdb", int64(10), nil}}
	})
	defineCatalog("pg_catalog", "pg_class", "oid:oid relname:name relnamespace:oid reltype:oid reloftype:oid relowner:oid relam:oid relfilenode:oid reltablespace:oid relpages:int4 reltuples:float4 relallvisible:int4 reltoastrelid:oid relhasindex:bool relisshared:bool relpersistence:char relkind:char relnatts:int2 relchecks:int2 relhasrules:bool relhastriggers:bool relhassubclass:bool relrowsecurity:bool relforcerowsecurity:bool relispopulated:bool relreplident:char relispartition:bool relrewrite:oid relfrozenxid:int8 relminmxid:int8 relacl:texta reloptions:texta relpartbound:text", func(x *execCtx) [][]any {
		var out [][]any
		row := func(oid int64, name string, ns int64, am int64, kind string, natts int, hasIdx bool, tuples float64) []any {
			return []any{oid, name, ns, int64(0), int64(0), int64(10), am, oid, int64(0), int64(0), tuples, int64(0), int64(0), hasIdx, false, "p", kind, int64(natts), int64(0), false, false, false, false, false, true, "d", false, int64(0), int64(0), int64(0), nil, nil, nil}
		}
		forTables(x, func(n string, d *engine.TableDef, t engine.Table) {
			out = append(out, row(int64(tableOID(n)), n, oidPublic, oidHeap, "r", len(d.Columns), len(d.Indexes) > 0 || len(d.PrimaryKey) > 0, float64(t.Len())))
		})
		for _, ix := range allIndexes(x.st) {
			out = append(out, row(indexOID(ix.name), ix.name, oidPublic, oidBtree, "i", len(ix.cols), false, 0))
		}
		for name, ct := range catalogTables {
			ns := int64(oidPgCatalog)
			if ct.schema == "information_schema" {
				ns = oidInfoSchema
			} else if ct.schema == "heliosdb" {
				continue // not on the search path: keep it out of \d
			}
			out = append(out, row(nameOID("v", name), name, ns, 0, "v", len(ct.cols), false, 0))
		}
		return out
	})
	defineCatalog("pg_catalog", "pg_attribute", "attrelid:oid attname:name atttypid:oid attstattarget:int4 attlen:int2 attnum:int2 attndims:int4 attcacheoff:int4 atttypmod:int4 attbyval:bool attalign:char attstorage:char attcompression:char attnotnull:bool atthasdef:bool atthasmissing:bool attidentity:char attgenerated:char attisdropped:bool attislocal:bool attinhcount:int4 attcollation:oid attacl:texta attoptions:texta attfdwoptions:texta", func(x *execCtx) [][]any {
		var out [][]any
		forTables(x, func(n string, d *engine.TableDef, t engine.Table) {
			for i := range d.Columns {
				c := &d.Columns[i]
				ct := colType(c)
				ident := ""
				if c.Identity {
					ident = ""
				}
				coll := int64(0)
				if ct.k.isString() {
					coll = 100
				}
				out = append(out, []any{int64(tableOID(n)), c.Name, int64(ct.oid()), int64(-1), int64(ct.size()), int64(i + 1), int64(0), int64(-1), int64(ct.typmod()), ct.size() > 0 && ct.size() <= 8, "i", "p", "", c.NotNull, columnDefault(d, i) != nil, false, ident, "", false, true, int64(0), coll, nil, nil, nil})
			}
		})
		for _, ix := range allIndexes(x.st) {
			for j, ci := range ix.cols {
				c := &ix.def.Columns[ci]
				ct := colType(c)
				out = append(out, []any{indexOID(ix.name), c.Name, int64(ct.oid()), int64(-1), int64(ct.size()), int64(j + 1), int64(0), int64(-1), int64(ct.typmod()), false, "i", "p", "", false, false, false, "", "", false, true, int64(0), int64(0), nil, nil, nil})
			}
		}
		return out
	})
	defineCatalog("pg_catalog", "pg_attrdef", "oid:oid adrelid:oid adnum:int2 adbin:text", func(x *execCtx) [][]any {
		var out [][]any
		forTables(x, func(n string, d *engine.TableDef, t engine.Table) {
			for i := range d.Columns {
				if def := columnDefault(d, i); def != nil {
					out = append(out, []any{nameOID("d", n+"."+d.Columns[i].Name), int64(tableOID(n)), int64(i + 1), def})
				}
			}
		})
		return out
	})
	defineCatalog("pg_catalog", "pg_type", "oid:oid typname:name typnamespace:oid typowner:oid typlen:int2 typbyval:bool typtype:char typcategory:char typispreferred:bool typisdefined:bool typdelim:char typrelid:oid typsubscript:regproc typelem:oid typarray:oid typinput:regproc typoutput:regproc typreceive:regproc typsend:regproc typmodin:regproc typmodout:regproc typanalyze:regproc typalign:char typstorage:char typnotnull:bool typbasetype:oid typtypmod:int4 typndims:int4 typcollation:oid typdefaultbin:text typdefault:text typacl:texta", func(x *execCtx) [][]any {
		var out [][]any
		for _, k := range typeKinds {
			t := typ{k: k}
			name := typname(k)
			arr := int64(arrayOIDs[k])
			tt := "b"
			if k == kUnknown || k == kVoid || k == kRecord {
				tt = "p"
			}
			coll := int64(0)
			if k.isString() && k != kRegproc {
				coll = 100
			}
			// kindInfo's OID, not t.oid(): unknown reports itself as text on
			// the wire but is its own type (705) here; a second row with
			// OID 25 duplicated every text column in joins on pg_type.
			out = append(out, []any{int64(kindInfo[k].oid), name, int64(oidPgCatalog), int64(10), int64(t.size()), t.size() > 0 && t.size() <= 8, tt, typCategory(k), false, true, ",", int64(0), "-", int64(0), arr, name + "in", name + "out", name + "recv", name + "send", "-", "-", "-", "i", "p", false, int64(0), int64(-1), int64(0), coll, nil, nil, nil})
			if arr != 0 {
				out = append(out, []any{arr, "_" + name, int64(oidPgCatalog), int64(10), int64(-1), false, "b", "A", false, true, ",", int64(0), "array_subscript_handler", int64(t.oid()), int64(0), "array_in", "array_out", "array_recv", "array_send", "-", "-", "array_typanalyze", "i", "x", false, int64(0), int64(-1), int64(0), coll, nil, nil, nil})
			}
		}
		return out
	})
	defineCatalog("pg_catalog", "pg_index", "indexrelid:oid indrelid:oid indnatts:int2 indnkeyatts:int2 indisunique:bool indnullsnotdistinct:bool indisprimary:bool indisexclusion:bool indimmediate:bool indisclustered:bool indisvalid:bool indcheckxmin:bool indisready:bool indislive:bool indisreplident:bool indkey:int2v indcollation:oida indclass:oida indoption:int2v indexprs:text indpred:text", func(x *execCtx) [][]any {
		var out [][]any
		for _, ix := range allIndexes(x.st) {
			var key []any
			var opt []any
			for _, ci := range ix.cols {
				key = append(key, int64(ci+1))
				opt = append(opt, int64(0))
			}
			out = append(out, []any{indexOID(ix.name), int64(tableOID(ix.table)), int64(len(ix.cols)), int64(len(ix.cols)), ix.unique, false, ix.primary, false, true, false, true, false, true, true, false, key, []any{}, []any{}, opt, nil, nil})
		}
		return out
	})
	defineCatalog("pg_catalog", "pg_constraint", "oid:oid conname:name connamespace:oid contype:char condeferrable:bool condeferred:bool convalidated:bool conrelid:oid contypid:oid conindid:oid conparentid:oid confrelid:oid confupdtype:char confdeltype:char confmatchtype:char conislocal:bool coninhcount:int4 connoinherit:bool conkey:int2a confkey:int2a conpfeqop:oida conppeqop:oida conffeqop:oida conexclop:oida conbin:text", func(x *execCtx) [][]any {
		var out [][]any
		for _, ix := range allIndexes(x.st) {
			if !ix.constr {
				continue
			}
			var key []any
			for _, ci := range ix.cols {
				key = append(key, int64(ci+1))
			}
			ct := "u"
			if ix.primary {
				ct = "p"
			}
			out = append(out, []any{conOID(ix.name), ix.name, int64(oidPublic), ct, false, false, true, int64(tableOID(ix.table)), int64(0), indexOID(ix.name), int64(0), int64(0), " ", " ", " ", true, int64(0), true, key, nil, nil, nil, nil, nil, nil})
		}
		forTables(x, func(n string, d *engine.TableDef, t engine.Table) {
			for i, c := range d.Columns {
				if c.NotNull && false {
					_ = i
				}
			}
		})
		return out
	})
	defineCatalog("pg_catalog", "pg_database", "oid:oid datname:name datdba:oid encoding:int4 datlocprovider:char datistemplate:bool datallowconn:bool datconnlimit:int4 datfrozenxid:int8 datminmxid:int8 dattablespace:oid datcollate:text datctype:text daticulocale:text datcollversion:text datacl:texta", func(x *execCtx) [][]any {
		names := []string{"postgres", "template0", "template1"}
		if x.sess.database != "postgres" && x.sess.database != "" {
			names = append([]string{x.sess.database}, names...)
		}
		var out [][]any
		for i, n := range names {
			out = append(out, []any{int64(oidDatabase + i), n, int64(10), int64(6), "c", strings.HasPrefix(n, "template"), n != "template0", int64(-1), int64(0), int64(1), int64(1663), "C.UTF-8", "C.UTF-8", nil, nil, nil})
		}
		return out
	})
	defineCatalog("pg_catalog", "pg_am", "oid:oid amname:name amhandler:regproc amtype:char", func(x *execCtx) [][]any {
		return [][]any{{int64(oidHeap), "heap", "heap_tableam_handler", "t"}, {int64(oidBtree), "btree", "bthandler", "i"}}
	})
	defineCatalog("pg_catalog", "pg_roles", "oid:oid rolname:name rolsuper:bool rolinherit:bool rolcreaterole:bool rolcreatedb:bool rolcanlogin:bool rolreplication:bool rolconnlimit:int4 rolpassword:text rolvaliduntil:ts rolbypassrls:bool rolconfig:texta", func(x *execCtx) [][]any {
		return [][]any{{int64(10), x.sess.user, true, true, true, true, true, true, int64(-1), "********", nil, true, nil}}
	})
	catalogTables["pg_authid"] = catalogTables["pg_roles"]
	defineCatalog("pg_catalog", "pg_user", "usename:name usesysid:oid usecreatedb:bool usesuper:bool userepl:bool usebypassrls:bool passwd:text valuntil:ts useconfig:texta", func(x *execCtx) [][]any {
		return [][]any{{x.sess.user, int64(10), true, true, true, true, "********", nil, nil}}
	})
	defineCatalog("pg_catalog", "pg_settings", "name:text setting:text unit:text category:text short_desc:text extra_desc:text context:text vartype:text source:text min_val:text max_val:text enumvals:texta boot_val:text reset_val:text sourcefile:text sourceline:int4 pending_restart:bool", func(x *execCtx) [][]any {
		var out [][]any
		for _, k := range sortedKeys(x.sess.settings) {
			v := x.sess.settings[k]
			out = append(out, []any{k, v, nil, "Ungrouped", "", nil, "user", "string", "default", nil, nil, nil, baseSettings[k], baseSettings[k], nil, nil, false})
		}
		return out
	})
	defineCatalog("pg_catalog", "pg_tables", "schemaname:name tablename:name tableowner:name tablespace:name hasindexes:bool hasrules:bool hastriggers:bool rowsecurity:bool", func(x *execCtx) [][]any {
		var out [][]any
		forTables(x, func(n string, d *engine.TableDef, t engine.Table) {
			out = append(out, []any{"public", n, x.sess.user, nil, len(d.Indexes) > 0 || len(d.PrimaryKey) > 0, false, false, false})
		})
		return out
	})
	defineCatalog("pg_catalog", "pg_indexes", "schemaname:name tablename:name indexname:name tablespace:name indexdef:text", func(x *execCtx) [][]any {
		var out [][]any
		for _, ix := range allIndexes(x.st) {
			out = append(out, []any{"public", ix.table, ix.name, nil, ix.indexDef()})
		}
		return out
	})
	defineCatalog("pg_catalog", "pg_auth_members", "oid:oid roleid:oid member:oid grantor:oid admin_option:bool inherit_option:bool set_option:bool", empty)
	defineCatalog("pg_catalog", "pg_views", "schemaname:name viewname:name viewowner:name definition:text", empty)
	defineCatalog("pg_catalog", "pg_matviews", "schemaname:name matviewname:name matviewowner:name definition:text", empty)
	defineCatalog("pg_catalog", "pg_sequences", "schemaname:name sequencename:name last_value:int8", empty)
	defineCatalog("pg_catalog", "pg_sequence", "seqrelid:oid seqtypid:oid seqstart:int8 seqincrement:int8 seqmax:int8 seqmin:int8 seqcache:int8 seqcycle:bool", empty)
	defineCatalog("pg_catalog", "pg_description", "objoid:oid classoid:oid objsubid:int4 description:text", empty)
	defineCatalog("pg_catalog", "pg_shdescription", "objoid:oid classoid:oid description:text", empty)
	defineCatalog("pg_catalog", "pg_inherits", "inhrelid:oid inhparent:oid inhseqno:int4 inhdetachpending:bool", empty)
	defineCatalog("pg_catalog", "pg_trigger", "oid:oid tgrelid:oid tgparentid:oid tgname:name tgfoid:oid tgtype:int2 tgenabled:char tgisinternal:bool tgconstrrelid:oid tgconstrindid:oid tgconstraint:oid tgdeferrable:bool tginitdeferred:bool tgnargs:int2", empty)
	defineCatalog("pg_catalog", "pg_policy", "oid:oid polname:name polrelid:oid polcmd:char polpermissive:bool polroles:oida polqual:text polwithcheck:text", empty)
	defineCatalog("pg_catalog", "pg_rewrite", "oid:oid rulename:name ev_class:oid ev_type:char ev_enabled:char is_instead:bool", empty)
	defineCatalog("pg_catalog", "pg_statistic_ext", "oid:oid stxrelid:oid stxname:name stxnamespace:oid stxowner:oid stxstattarget:int4 stxkeys:int2v stxkind:texta", empty)
	defineCatalog("pg_catalog", "pg_publication", "oid:oid pubname:name pubowner:oid puballtables:bool pubinsert:bool pubupdate:bool pubdelete:bool pubtruncate:bool pubviaroot:bool", empty)
	defineCatalog("pg_catalog", "pg_publication_rel", "oid:oid prpubid:oid prrelid:oid prqual:text prattrs:int2v", empty)
	defineCatalog("pg_catalog", "pg_publication_namespace", "oid:oid pnpubid:oid pnnspid:oid", empty)
	defineCatalog("pg_catalog", "pg_subscription", "oid:oid subname:name", empty)
	defineCatalog("pg_catalog", "pg_foreign_table", "ftrelid:oid ftserver:oid ftoptions:texta", empty)
	defineCatalog("pg_catalog", "pg_partitioned_table", "partrelid:oid partstrat:char partnatts:int2", empty)
	defineCatalog("pg_catalog", "pg_collation", "oid:oid collname:name collnamespace:oid collowner:oid collprovider:char collisdeterministic:bool collencoding:int4 collcollate:text collctype:text", func(x *execCtx) [][]any {
		return [][]any{{int64(100), "default", int64(oidPgCatalog), int64(10), "d", true, int64(-1), nil, nil}}
	})
	defineCatalog("pg_catalog", "pg_extension", "oid:oid extname:name extowner:oid extnamespace:oid extrelocatable:bool extversion:text", func(x *execCtx) [][]any {
		return [][]any{{int64(13500), "plpgsql", int64(10), int64(oidPgCatalog), false, "1.0"}}
	})
	defineCatalog("pg_catalog", "pg_tablespace", "oid:oid spcname:name spcowner:oid spcacl:texta spcoptions:texta", func(x *execCtx) [][]any {
		return [][]any{{int64(1663), "pg_default", int64(10), nil, nil}, {int64(1664), "pg_global", int64(10), nil, nil}}
	})
	defineCatalog("pg_catalog", "pg_proc", "oid:oid proname:name pronamespace:oid proowner:oid prolang:oid prokind:char prorettype:oid proargtypes:oida proretset:bool", empty)
	defineCatalog("pg_catalog", "pg_operator", "oid:oid oprname:name oprnamespace:oid oprleft:oid oprright:oid oprresult:oid", empty)
	defineCatalog("pg_catalog", "pg_enum", "oid:oid enumtypid:oid enumsortorder:float4 enumlabel:name", empty)
	defineCatalog("pg_catalog", "pg_range", "rngtypid:oid rngsubtype:oid", empty)
	defineCatalog("pg_catalog", "pg_depend", "classid:oid objid:oid objsubid:int4 refclassid:oid refobjid:oid refobjsubid:int4 deptype:char", empty)
	defineCatalog("pg_catalog", "pg_event_trigger", "oid:oid evtname:name", empty)
	defineCatalog("pg_catalog", "pg_cast", "oid:oid castsource:oid casttarget:oid castfunc:oid castcontext:char castmethod:char", empty)
	defineCatalog("pg_catalog", "pg_language", "oid:oid lanname:name", empty)
	defineCatalog("pg_catalog", "pg_stat_activity", "datid:oid datname:name pid:int4 usename:name application_name:text client_addr:text state:text query:text backend_start:ts query_start:ts", func(x *execCtx) [][]any {
		return [][]any{{int64(oidDatabase), x.sess.database, int64(x.sess.pid), x.sess.user, x.sess.settings["application_name"], nil, "active", "", nil, nil}}
	})
	defineCatalog("pg_catalog", "pg_locks", "locktype:text database:oid relation:oid pid:int4 mode:text granted:bool", empty)
	defineCatalog("pg_catalog", "pg_stat_user_tables", "relid:oid schemaname:name relname:name seq_scan:int8 n_live_tup:int8 n_dead_tup:int8", func(x *execCtx) [][]any {
		var out [][]any
		forTables(x, func(n string, d *engine.TableDef, t engine.Table) {
			out = append(out, []any{int64(tableOID(n)), "public", n, int64(0), int64(t.Len()), int64(0)})
		})
		return out
	})
	// information_schema.
	defineCatalog("information_schema", "tables", "table_catalog:name table_schema:name table_name:name table_type:text self_referencing_column_name:name reference_generation:text user_defined_type_catalog:name user_defined_type_schema:name user_defined_type_name:name is_insertable_into:text is_typed:text commit_action:text", func(x *execCtx) [][]any {
		var out [][]any
		forTables(x, func(n string, d *engine.TableDef, t engine.Table) {
			out = append(out, []any{x.sess.database, "public", n, "BASE TABLE", nil, nil, nil, nil, nil, "YES", "NO", nil})
		})
		return out
	})
	defineCatalog("information_schema", "columns", "table_catalog:name table_schema:name table_name:name column_name:name ordinal_position:int4 column_default:text is_nullable:text data_type:text character_maximum_length:int4 character_octet_length:int4 numeric_precision:int4 numeric_precision_radix:int4 numeric_scale:int4 datetime_precision:int4 udt_catalog:name udt_schema:name udt_name:name is_identity:text identity_generation:text is_generated:text is_updatable:text", func(x *execCtx) [][]any {
		var out [][]any
		forTables(x, func(n string, d *engine.TableDef, t engine.Table) {
			for i := range d.Columns {
				c := &d.Columns[i]
				ct := colType(c)
				var maxLen, octLen, prec, radix, scale, dtp any
				switch {
				case ct.k == kVarchar || ct.k == kChar:
					if c.Length > 0 {
						maxLen, octLen = int64(c.Length), int64(c.Length*4)
					} else {
						octLen = int64(1073741824)
					}
				case ct.k == kText:
					octLen = int64(1073741824)
				case ct.k == kInt2:
					prec, radix, scale = int64(16), int64(2), int64(0)
				case ct.k == kInt4:
					prec, radix, scale = int64(32), int64(2), int64(0)
				case ct.k == kInt8:
					prec, radix, scale = int64(64), int64(2), int64(0)
				case ct.k == kFloat4:
					prec, radix = int64(24), int64(2)
				case ct.k == kFloat8:
					prec, radix = int64(53), int64(2)
				case ct.k == kNumeric:
					radix = int64(10)
					if c.Precision > 0 {
						prec, scale = int64(c.Precision), int64(c.Scale)
					}
				case ct.k == kDate:
					dtp = int64(0)
				case ct.k.isTime():
					dtp = int64(6)
				}
				out = append(out, []any{x.sess.database, "public", n, c.Name, int64(i + 1), columnDefault(d, i), boolYN(!c.NotNull), kindInfo[ct.k].name, maxLen, octLen, prec, radix, scale, dtp, x.sess.database, "pg_catalog", typname(ct.k), "NO", nil, "NEVER", "YES"})
			}
		})
		return out
	})
	defineCatalog("information_schema", "schemata", "catalog_name:name schema_name:name schema_owner:name default_character_set_catalog:name default_character_set_schema:name default_character_set_name:name sql_path:text", func(x *execCtx) [][]any {
		var out [][]any
		for _, s := range []string{"pg_catalog", "public", "information_schema", "heliosdb"} {
			out = append(out, []any{x.sess.database, s, x.sess.user, nil, nil, nil, nil})
		}
		return out
	})
	defineCatalog("information_schema", "table_constraints", "constraint_catalog:name constraint_schema:name constraint_name:name table_catalog:name table_schema:name table_name:name constraint_type:text is_deferrable:text initially_deferred:text enforced:text", func(x *execCtx) [][]any {
		var out [][]any
		for _, ix := range allIndexes(x.st) {
			if !ix.constr {
				continue
			}
			ct := "UNIQUE"
			if ix.primary {
				ct = "PRIMARY KEY"
			}
			out = append(out, []any{x.sess.database, "public", ix.name, x.sess.database, "public", ix.table, ct, "NO", "NO", "YES"})
		}
		return out
	})
	defineCatalog("information_schema", "key_column_usage", "constraint_catalog:name constraint_schema:name constraint_name:name table_catalog:name table_schema:name table_name:name column_name:name ordinal_position:int4 position_in_unique_constraint:int4", func(x *execCtx) [][]any {
		var out [][]any
		for _, ix := range allIndexes(x.st) {
			if !ix.constr {
				continue
			}
			for j, ci := range ix.cols {
				out = append(out, []any{x.sess.database, "public", ix.name, x.sess.database, "public", ix.table, ix.def.Columns[ci].Name, int64(j + 1), nil})
			}
		}
		return out
	})
	defineCatalog("information_schema", "views", "table_catalog:name table_schema:name table_name:name view_definition:text", empty)
	defineCatalog("information_schema", "routines", "specific_name:name routine_name:name routine_schema:name routine_type:text", empty)
	defineCatalog("information_schema", "sequences", "sequence_catalog:name sequence_schema:name sequence_name:name data_type:text", empty)
	defineCatalog("heliosdb", "members", "node_id:text role:text voter:bool pg_addr:text applied_lsn:int8 lag:int8 last_contact:ts healthy:bool", func(x *execCtx) [][]any {
		if x.db.cfg.Members == nil {
			return nil
		}
		var out [][]any
		for _, m := range x.db.cfg.Members() {
			var lc any
			if !m.LastContact.IsZero() {
				lc = timeTS(m.LastContact)
			}
			out = append(out, []any{m.NodeID, m.Role, m.Voter, m.PgAddr, int64(m.AppliedLSN), int64(m.Lag), lc, m.Healthy})
		}
		return out
	})
}

func empty(*execCtx) [][]any { return nil }
