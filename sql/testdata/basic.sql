CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, score numeric(10,2), tag varchar(5), created timestamptz DEFAULT now())
----
CREATE TABLE

INSERT INTO t (id, name, score, tag) VALUES (1, 'alice', 10.555, 'a'), (2, 'bob', 20, 'bb'), (3, 'carol', NULL, NULL)
----
INSERT 0 3

SELECT id, name, score, tag FROM t ORDER BY id
----
id | name | score | tag
1 | alice | 10.56 | a
2 | bob | 20.00 | bb
3 | carol | NULL | NULL
SELECT 3

SELECT count(*), sum(score), avg(score), min(name), max(name) FROM t
----
count | sum | avg | min | max
3 | 30.56 | 15.2800000000000000 | alice | carol
SELECT 1

SELECT name FROM t WHERE id = 2
----
name
bob
SELECT 1

UPDATE t SET score = score + 1 WHERE id <= 2 RETURNING id, score
----
id | score
1 | 11.56
2 | 21.00
UPDATE 2

DELETE FROM t WHERE name LIKE 'c%' RETURNING *
----
id | name | score | tag | created
3 | carol | NULL | NULL | 2024-01-02 03:04:05+00
DELETE 1

INSERT INTO t (id, name) VALUES (1, 'dup')
----
ERROR 23505: duplicate key value violates unique constraint "t_pkey"

INSERT INTO t (id, name) VALUES (1, 'dup') ON CONFLICT (id) DO UPDATE SET name = excluded.name || '!' RETURNING id, name
----
id | name
1 | dup!
INSERT 0 1

INSERT INTO t (id, name, tag) VALUES (9, 'x', 'toolong')
----
ERROR 22001: value too long for type character varying(5)

SELECT * FROM nosuch
----
ERROR 42P01: relation "nosuch" does not exist

SELECT nosuch FROM t
----
ERROR 42703: column "nosuch" does not exist

SELECT 1/0
----
ERROR 22012: division by zero

SELECT 2147483647 + 1
----
ERROR 22003: integer out of range

SELECT 1 +
----
ERROR 42601: syntax error at end of input

EXPLAIN SELECT * FROM t WHERE id = 1
----
QUERY PLAN
Index Scan using t_pkey on t
    Index Cond: (id = $)
    Filter: (...)
EXPLAIN

EXPLAIN SELECT * FROM t WHERE name = 'bob'
----
QUERY PLAN
Seq Scan on t
    Filter: (...)
EXPLAIN

CREATE INDEX ON t (name)
----
CREATE INDEX

EXPLAIN SELECT * FROM t WHERE name = 'bob'
----
QUERY PLAN
Index Scan using t_name_idx on t
    Index Cond: (name = $)
    Filter: (...)
EXPLAIN

SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 't' ORDER BY 1
----
indexname | indexdef
t_name_idx | CREATE INDEX t_name_idx ON public.t USING btree (name)
t_pkey | CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)
SELECT 2

SELECT column_name, data_type, is_nullable, character_maximum_length FROM information_schema.columns WHERE table_name = 't' ORDER BY ordinal_position
----
column_name | data_type | is_nullable | character_maximum_length
id | integer | NO | NULL
name | text | NO | NULL
score | numeric | YES | NULL
tag | character varying | YES | 5
created | timestamp with time zone | YES | NULL
SELECT 5
