"""Drives HeliosDB-Lite through Debian's psycopg2, as an application would.

Run by TestPsycopg2 with the DSN as argv[1]. Prints one "ok <check>" line per
passed check and exits non-zero (with a traceback) on the first failure.
"""
import datetime
import decimal
import io
import json
import sys
import uuid

import psycopg2
import psycopg2.errors
import psycopg2.extras

psycopg2.extras.register_uuid()


def ok(name):
    print("ok", name, flush=True)


def expect(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
cur.execute("SELECT version(), current_database()")
v, db = cur.fetchone()
expect(db, "postgres", "current_database")
ok("connect")

cur.execute("""CREATE TABLE py_types (
    id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double precision,
    n numeric(12,4), b boolean, t text, vc varchar(20), c char(5), ba bytea,
    d date, ts timestamp, tstz timestamptz, u uuid, j json, jb jsonb)""")
conn.commit()
ok("create")

tz = datetime.timezone(datetime.timedelta(hours=2))
rows = [
    (1, 7, 9007199254740993, 1.5, 2.25, decimal.Decimal("12345678.1234"), True,
     "héllo 'quoted'", "vc", "ab", b"\x00\x01\xff", datetime.date(2026, 11, 21),
     datetime.datetime(2026, 11, 21, 19, 2, 5, 946000),
     datetime.datetime(2026, 11, 21, 21, 2, 5, 946000, tzinfo=tz),
     uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
     json.dumps({"a": [1, 2]}), json.dumps({"k": "v"})),
    (2,) + (None,) * 16,
    (3, -32768, -9223372036854775808, -0.5, -1e300, decimal.Decimal("-0.0001"), False,
     "", "", "", b"", datetime.date(1999, 12, 31),
     datetime.datetime(2000, 1, 1, 0, 0, 0),
     datetime.datetime(2000, 1, 1, 0, 0, 0, tzinfo=datetime.timezone.utc),
     uuid.UUID(int=0), "[]", "null"),
]
cur.executemany("INSERT INTO py_types VALUES (" + ",".join(["%s"] * 17) + ")", rows)
expect(cur.rowcount, 3, "executemany rowcount")
conn.commit()
ok("executemany")

cur.execute("SELECT * FROM py_types ORDER BY id")
got = cur.fetchall()
expect(len(got), 3, "row count")
r = got[0]
expect(r[1], 7, "int2")
expect(r[2], 9007199254740993, "int8")
expect(r[3], 1.5, "float4")
expect(r[4], 2.25, "float8")
expect(r[5], decimal.Decimal("12345678.1234"), "numeric")
expect(r[6], True, "bool")
expect(r[7], "héllo 'quoted'", "text")
expect(r[8], "vc", "varchar")
expect(r[9], "ab   ", "char")
expect(bytes(r[10]), b"\x00\x01\xff", "bytea")
expect(type(r[10]), memoryview, "bytea type")
expect(r[11], datetime.date(2026, 11, 21), "date")
expect(r[12], datetime.datetime(2026, 11, 21, 19, 2, 5, 946000), "timestamp")
expect(r[13], datetime.datetime(2026, 11, 21, 19, 2, 5, 946000, tzinfo=datetime.timezone.utc), "timestamptz")
expect(r[13].utcoffset(), datetime.timedelta(0), "timestamptz offset")
expect(r[14], uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "uuid")
expect(r[15], {"a": [1, 2]}, "json")
expect(r[16], {"k": "v"}, "jsonb")
expect(got[1], (2,) + (None,) * 16, "nulls")
r = got[2]
expect(r[1:7], (-32768, -9223372036854775808, -0.5, -1e300, decimal.Decimal("-0.0001"), False), "negatives")
expect((r[7], r[8], r[9], bytes(r[10])), ("", "", "     ", b""), "empties")
expect(r[13], datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc), "timestamptz utc")
expect((r[14], r[15], r[16]), (uuid.UUID(int=0), [], None), "uuid/json edge")
ok("types round trip")

# Parameters are interpolated client side; filters on every type.
cur.execute("SELECT id FROM py_types WHERE d = %s AND tstz = %s AND u = %s AND n = %s AND ba = %s",
            (datetime.date(2026, 11, 21), datetime.datetime(2026, 11, 21, 19, 2, 5, 946000, tzinfo=datetime.timezone.utc),
             uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), decimal.Decimal("12345678.1234"), b"\x00\x01\xff"))
expect(cur.fetchall(), [(1,)], "filter by typed params")
ok("params")

# Server-side errors map to psycopg2.errors classes.
def expect_error(cls, sql, args=None):
    try:
        cur.execute(sql, args)
    except cls as e:
        conn.rollback()
        return e
    raise AssertionError("%s: no %s" % (sql, cls.__name__))

e = expect_error(psycopg2.errors.UniqueViolation, "INSERT INTO py_types (id) VALUES (1)")
expect(e.pgcode, "23505", "unique pgcode")
expect_error(psycopg2.errors.UndefinedTable, "SELECT * FROM no_such_table")
expect_error(psycopg2.errors.UndefinedColumn, "SELECT no_such_col FROM py_types")
expect_error(psycopg2.errors.SyntaxError, "SELEKT 1")
expect_error(psycopg2.errors.NotNullViolation, "CREATE TABLE nn (a int NOT NULL); INSERT INTO nn VALUES (NULL)")
expect_error(psycopg2.errors.DivisionByZero, "SELECT 1/0")
expect_error(psycopg2.errors.InvalidTextRepresentation, "SELECT 'x'::int")
expect_error(psycopg2.errors.StringDataRightTruncation, "INSERT INTO py_types (id, vc) VALUES (9, %s)", ("x" * 21,))
ok("error classes")

# Transactions: rollback discards, 25P02 after an error, commit keeps.
cur.execute("INSERT INTO py_types (id) VALUES (10)")
conn.rollback()
cur.execute("SELECT count(*) FROM py_types WHERE id = 10")
expect(cur.fetchone()[0], 0, "rolled back row")
cur.execute("INSERT INTO py_types (id) VALUES (11)")
try:
    cur.execute("SELECT 1/0")
except psycopg2.errors.DivisionByZero:
    pass
expect(conn.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_INERROR, "tx status")
try:
    cur.execute("SELECT 1")
    raise AssertionError("no 25P02")
except psycopg2.errors.InFailedSqlTransaction:
    pass
conn.rollback()
with conn:
    with conn.cursor() as c2:
        c2.execute("INSERT INTO py_types (id) VALUES (12)")
cur.execute("SELECT array_agg(id ORDER BY id) FROM py_types WHERE id > 9") if False else cur.execute("SELECT id FROM py_types WHERE id > 9 ORDER BY id")
expect(cur.fetchall(), [(12,)], "committed rows")
conn.commit()
ok("transactions")

conn.autocommit = True
cur.execute("CREATE TABLE py_copy (id int PRIMARY KEY, name text, amount numeric(8,2), at timestamptz)")
data = io.StringIO("1\talice\t1.50\t2026-11-21 19:02:05+00\n2\t\\N\t\\N\t\\N\n3\ttab\\there\t-2.00\t2026-01-01 00:00:00+00\n")
cur.copy_expert("COPY py_copy FROM STDIN", data)
expect(cur.rowcount, 3, "copy in rowcount")
cur.copy_expert("COPY py_copy (id, name) FROM STDIN WITH (FORMAT csv, HEADER true)", io.StringIO('id,name\n4,"comma, quoted"\n5,\n'))
out = io.StringIO()
cur.copy_expert("COPY py_copy TO STDOUT", out)
expect(out.getvalue(),
       "1\talice\t1.50\t2026-11-21 19:02:05+00\n2\t\\N\t\\N\t\\N\n3\ttab\\there\t-2.00\t2026-01-01 00:00:00+00\n"
       "4\tcomma, quoted\t\\N\t\\N\n5\t\\N\t\\N\t\\N\n", "copy out text")
out = io.StringIO()
cur.copy_expert("COPY (SELECT id, name FROM py_copy WHERE id >= 4 ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)", out)
expect(out.getvalue(), 'id,name\n4,"comma, quoted"\n5,\n', "copy out csv")
ok("copy_expert")

cur.execute("SELECT now()::timestamptz, current_date, 1.5::numeric, '{\"x\":1}'::jsonb")
r = cur.fetchone()
expect(type(r[0]), datetime.datetime, "now type")
expect(r[0].utcoffset(), datetime.timedelta(0), "now offset")
expect(r[2], decimal.Decimal("1.5"), "numeric literal")
expect(r[3], {"x": 1}, "jsonb literal")
ok("expressions")

conn.close()
print("done")
