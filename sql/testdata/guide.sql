# The example queries of the dump/restore guide, as written.
CREATE TABLE users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, created_at timestamptz DEFAULT now())
----
CREATE TABLE

CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL, total numeric(12,2), created_at timestamptz DEFAULT now()); CREATE INDEX orders_user_idx ON orders (user_id)
----
CREATE TABLE
CREATE INDEX

INSERT INTO users (email) VALUES ('a@x'), ('b@x'); INSERT INTO orders (user_id, total) VALUES (1, 9.99)
----
INSERT 0 2
INSERT 0 1

SELECT pg_stat_get_dirty_bytes() as dirty_bytes,
pg_stat_get_dirty_bytes() > 0 as needs_dump;
----
dirty_bytes | needs_dump
57 | true
SELECT 1

SELECT table_name,
pg_table_dirty_bytes(table_name) as dirty_bytes
FROM information_schema.tables
WHERE table_schema = 'public'
ORDER BY dirty_bytes DESC;
----
table_name | dirty_bytes
users | 36
orders | 21
SELECT 2

SELECT COUNT(*) FROM users;
----
count
2
SELECT 1

SELECT MAX(created_at) FROM orders;
----
max
2024-01-02 03:04:05+00
SELECT 1

SELECT table_name, column_name, data_type
FROM information_schema.columns
WHERE table_schema = 'public'
ORDER BY table_name, ordinal_position;
----
table_name | column_name | data_type
orders | id | bigint
orders | user_id | bigint
orders | total | numeric
orders | created_at | timestamp with time zone
users | id | bigint
users | email | text
users | created_at | timestamp with time zone
SELECT 7

SELECT tablename, indexname, indexdef
FROM pg_indexes
WHERE schemaname = 'public'
ORDER BY tablename, indexname;
----
tablename | indexname | indexdef
orders | orders_pkey | CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)
orders | orders_user_idx | CREATE INDEX orders_user_idx ON public.orders USING btree (user_id)
users | users_email_key | CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)
users | users_pkey | CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)
SELECT 4
