\set VERBOSITY verbose
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), qty int DEFAULT 0, added date, at timestamptz);
CREATE INDEX items_name_idx ON items (name);
CREATE UNIQUE INDEX items_qty_added ON items (qty, added);
INSERT INTO items VALUES (1, 'apple', 1.25, 10, '2026-11-21', '2026-11-21 19:02:05.946+00'), (2, 'pear', NULL, 5, NULL, NULL);
SELECT * FROM items ORDER BY id;
\dt
\d items
\di
\copy items from 'items.txt'
\copy items from 'items.csv' with (format csv, header)
SELECT count(*), sum(price), min(at), max(added) FROM items;
\copy items to stdout
\copy (SELECT id, name, price FROM items ORDER BY id) to stdout with (format csv, header)
\copy items to 'out.txt'
\copy (SELECT * FROM items ORDER BY id) to 'out.csv' with (format csv)
CREATE TABLE items2 (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), qty int DEFAULT 0, added date, at timestamptz);
\copy items2 from 'out.txt'
TRUNCATE items2;
\copy items2 from 'out.csv' with (format csv)
SELECT i.id, i.name = j.name AS same FROM items i JOIN items2 j ON i.id = j.id ORDER BY i.id;
\dt
SELECT 1 AS one, 'x'::text AS two, NULL::int AS three, true AS four, 1.50::numeric(5,2) AS five, '2026-11-21'::date AS six, '2026-11-21 19:02:05'::timestamp AS seven;
\x on
SELECT id, name FROM items WHERE id < 3 ORDER BY id;
\x off
SELEC 1;
SELECT * FROM nosuch;
SELECT nosuch FROM items;
SELECT id FROM items WHERE name = 1 +;
INSERT INTO items (id, name) VALUES (1, 'dup');
SELECT 1/0;
SELECT 'abc'::int;
BEGIN;
SELECT 1/0;
SELECT 1;
ROLLBACK;
DROP TABLE items2;
\dt
