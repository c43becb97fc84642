CREATE TABLE kv (k text PRIMARY KEY, v int DEFAULT 0, note varchar(3))
----
CREATE TABLE

INSERT INTO kv (k) VALUES ('a'), ('b') RETURNING k, v
----
k | v
a | 0
b | 0
INSERT 0 2

INSERT INTO kv VALUES ('a', 5) ON CONFLICT DO NOTHING
----
INSERT 0 0

INSERT INTO kv VALUES ('a', 5), ('c', 7) ON CONFLICT (k) DO UPDATE SET v = kv.v + excluded.v WHERE kv.v < 10 RETURNING *
----
k | v | note
a | 5 | NULL
c | 7 | NULL
INSERT 0 2

INSERT INTO kv (k, v) SELECT k || '2', v * 10 FROM kv WHERE v > 0
----
INSERT 0 2

UPDATE kv SET note = 'abcd' WHERE k = 'a'
----
UPDATE 1

UPDATE kv SET note = 'ab  ' WHERE k = 'a' RETURNING note
----
note
ab 
UPDATE 1

UPDATE kv SET k = 'z' WHERE k = 'b'
----
UPDATE 1

DELETE FROM kv WHERE v >= 50 RETURNING k
----
k
a2
c2
DELETE 2

SELECT * FROM kv ORDER BY k
----
k | v | note
a | 5 | ab 
c | 7 | NULL
z | 0 | NULL
SELECT 3

INSERT INTO kv VALUES (NULL, 1)
----
ERROR 23502: null value in column "k" of relation "kv" violates not-null constraint

INSERT INTO kv (k, nosuch) VALUES ('q', 1)
----
ERROR 42703: column "nosuch" of relation "kv" does not exist

CREATE TABLE nokey (a int, b text)
----
CREATE TABLE

INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (2, 'y')
----
INSERT 0 3

UPDATE nokey SET b = 'z' WHERE a = 1
----
UPDATE 2

SELECT a, b, count(*) FROM nokey GROUP BY a, b ORDER BY a
----
a | b | count
1 | z | 2
2 | y | 1
SELECT 2

DELETE FROM nokey WHERE a = 1
----
DELETE 2

TRUNCATE nokey
----
TRUNCATE TABLE

SELECT count(*) FROM nokey
----
count
0
SELECT 1

BEGIN
----
BEGIN

INSERT INTO kv VALUES ('tx', 1)
----
INSERT 0 1

SELECT count(*) FROM kv WHERE k = 'tx'
----
count
1
SELECT 1

ROLLBACK
----
ROLLBACK

SELECT count(*) FROM kv WHERE k = 'tx'
----
count
0
SELECT 1

BEGIN; CREATE TABLE txt (a int); INSERT INTO txt VALUES (1); COMMIT
----
BEGIN
CREATE TABLE
INSERT 0 1
COMMIT

SELECT * FROM txt
----
a
1
SELECT 1

CREATE TABLE ids (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x int)
----
CREATE TABLE

INSERT INTO ids (x) VALUES (10), (20) RETURNING id
----
id
1
2
INSERT 0 2

CREATE TABLE u (a int, b int UNIQUE)
----
CREATE TABLE

INSERT INTO u VALUES (1, 1), (2, 1)
----
ERROR 23505: duplicate key value violates unique constraint "u_b_key"

INSERT INTO u VALUES (1, NULL), (2, NULL)
----
INSERT 0 2
