CREATE TABLE t (a int, b varchar(10) NOT NULL DEFAULT 'x', c numeric(5,2), d char(3), PRIMARY KEY (a))
----
CREATE TABLE

CREATE TABLE t (a int)
----
ERROR 42P07: relation "t" already exists

CREATE TABLE IF NOT EXISTS t (a int)
----
CREATE TABLE

CREATE TABLE "Mixed" ("Col" int)
----
CREATE TABLE

SELECT "Col" FROM "Mixed"
----
Col
SELECT 0

SELECT Col FROM "Mixed"
----
ERROR 42703: column "col" does not exist

INSERT INTO t (a, c, d) VALUES (1, 123.456, 'ab')
----
INSERT 0 1

SELECT a, b, c, d || '|' FROM t
----
a | b | c | ?column?
1 | x | 123.46 | ab |
SELECT 1

INSERT INTO t (a, c) VALUES (2, 12345)
----
ERROR 22003: numeric field overflow

ALTER TABLE t ADD COLUMN e int DEFAULT 7
----
ALTER TABLE

ALTER TABLE t RENAME COLUMN e TO f
----
ALTER TABLE

ALTER TABLE t ALTER COLUMN f SET NOT NULL
----
ALTER TABLE

ALTER TABLE t ALTER COLUMN c SET DEFAULT 1.5
----
ALTER TABLE

INSERT INTO t (a) VALUES (3)
----
INSERT 0 1

SELECT * FROM t ORDER BY a
----
a | b | c | d | f
1 | x | 123.46 | ab  | 7
3 | x | 1.50 | NULL | 7
SELECT 2

ALTER TABLE t DROP COLUMN d
----
ALTER TABLE

ALTER TABLE t RENAME TO t2
----
ALTER TABLE

SELECT column_name, data_type, column_default, is_nullable FROM information_schema.columns WHERE table_name = 't2' ORDER BY ordinal_position
----
column_name | data_type | column_default | is_nullable
a | integer | NULL | NO
b | character varying | 'x' | NO
c | numeric | 1.5 | YES
f | integer | 7 | NO
SELECT 4

CREATE UNIQUE INDEX t2_b ON t2 (b)
----
ERROR 23505: duplicate key value violates unique constraint "t2_b"

CREATE INDEX IF NOT EXISTS t2_b ON t2 (b)
----
CREATE INDEX

DROP INDEX t2_b
----
DROP INDEX

DROP INDEX nosuch
----
ERROR 42704: index "nosuch" does not exist

DROP INDEX IF EXISTS nosuch
----
DROP INDEX

CREATE TABLE p (x int)
----
CREATE TABLE

ALTER TABLE p ADD PRIMARY KEY (x)
----
ALTER TABLE

ALTER TABLE p ADD CONSTRAINT p_u UNIQUE (x)
----
ALTER TABLE

SELECT tablename, indexname FROM pg_indexes ORDER BY 1, 2
----
tablename | indexname
p | p_pkey
p | p_u
t2 | t_pkey
SELECT 3

DROP TABLE p, t2, "Mixed"
----
DROP TABLE

DROP TABLE p
----
ERROR 42P01: table "p" does not exist

DROP TABLE IF EXISTS p
----
DROP TABLE

SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'
----
table_name
SELECT 0

CREATE TABLE bad (a int CHECK (a > 0))
----
ERROR 0A000: CHECK constraints is not supported

VACUUM
----
VACUUM

SHOW server_version
----
server_version
15.0
SHOW

SET application_name = 'foo'
----
SET

SHOW application_name
----
application_name
foo
SHOW

SET heliosdb.read_consistency = 'bogus'
----
ERROR 22023: invalid value for parameter "heliosdb.read_consistency": "bogus"

SET heliosdb.read_consistency TO local
----
SET

SELECT current_setting('heliosdb.read_consistency'), pg_stat_get_dirty_bytes() >= 0
----
current_setting | ?column?
local | true
SELECT 1
