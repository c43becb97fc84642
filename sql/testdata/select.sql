CREATE TABLE emp (id serial PRIMARY KEY, name text, dept text, salary int, hired date, boss int)
----
CREATE TABLE

INSERT INTO emp (name, dept, salary, hired, boss) VALUES ('ann', 'eng', 100, '2020-01-15', NULL), ('bob', 'eng', 80, '2021-03-01', 1), ('cat', 'ops', 70, '2019-07-30', 1), ('dan', 'ops', NULL, '2022-11-11', 3), ('eve', NULL, 50, NULL, 3)
----
INSERT 0 5

SELECT dept, count(*), count(salary), sum(salary), avg(salary)::numeric(10,2), max(hired) FROM emp GROUP BY dept ORDER BY dept NULLS FIRST
----
dept | count | count | sum | avg | max
NULL | 1 | 1 | 50 | 50.00 | NULL
eng | 2 | 2 | 180 | 90.00 | 2021-03-01
ops | 2 | 1 | 70 | 70.00 | 2022-11-11
SELECT 3

SELECT dept, count(*) AS n FROM emp GROUP BY 1 HAVING count(*) > 1 ORDER BY n DESC, dept
----
dept | n
eng | 2
ops | 2
SELECT 2

SELECT e.name, b.name AS boss FROM emp e LEFT JOIN emp b ON e.boss = b.id ORDER BY e.id
----
name | boss
ann | NULL
bob | ann
cat | ann
dan | cat
eve | cat
SELECT 5

SELECT e.name FROM emp e WHERE EXISTS (SELECT 1 FROM emp x WHERE x.boss = e.id) ORDER BY 1
----
name
ann
cat
SELECT 2

SELECT name, (SELECT count(*) FROM emp x WHERE x.boss = e.id) AS reports FROM emp e ORDER BY reports DESC, name LIMIT 3
----
name | reports
ann | 2
cat | 2
bob | 0
SELECT 3

SELECT name FROM emp WHERE dept IN ('eng', 'hr') AND salary BETWEEN 50 AND 90
----
name
bob
SELECT 1

SELECT name FROM emp WHERE id IN (SELECT boss FROM emp) ORDER BY name
----
name
ann
cat
SELECT 2

SELECT name FROM emp WHERE id NOT IN (SELECT boss FROM emp WHERE boss IS NOT NULL) ORDER BY name
----
name
bob
dan
eve
SELECT 3

SELECT DISTINCT dept FROM emp ORDER BY dept
----
dept
eng
ops
NULL
SELECT 3

SELECT count(DISTINCT dept), string_agg(name, ',' ORDER BY name), bool_and(salary > 60), bool_or(salary > 90) FROM emp
----
count | string_agg | bool_and | bool_or
2 | ann,bob,cat,dan,eve | false | true
SELECT 1

WITH rich AS (SELECT * FROM emp WHERE salary >= 80) SELECT name FROM rich ORDER BY salary
----
name
bob
ann
SELECT 2

SELECT name FROM emp WHERE dept = 'eng' UNION SELECT name FROM emp WHERE salary < 75 ORDER BY 1
----
name
ann
bob
cat
eve
SELECT 4

SELECT dept FROM emp UNION ALL SELECT 'x' EXCEPT SELECT 'ops' ORDER BY 1 NULLS LAST
----
dept
eng
x
NULL
SELECT 3

SELECT CASE WHEN salary > 90 THEN 'high' WHEN salary > 60 THEN 'mid' ELSE 'low' END AS band, coalesce(dept, '?'), nullif(dept, 'eng'), greatest(salary, 75), least(1, 2, NULL)  FROM emp ORDER BY id
----
band | coalesce | nullif | greatest | least
high | eng | NULL | 100 | 1
mid | eng | NULL | 80 | 1
mid | ops | ops | 75 | 1
low | ops | ops | 75 | 1
low | ? | NULL | 75 | 1
SELECT 5

SELECT upper(name) || '-' || length(name), substr(name, 2), lpad(name, 5, '*'), replace(name, 'a', 'A'), split_part('a,b,c', ',', 2), md5('x') FROM emp WHERE id = 1
----
?column? | substr | lpad | replace | split_part | md5
ANN-3 | nn | **ann | Ann | b | 9dd4e461268c8034f5c8564e155c67a6
SELECT 1

SELECT 7 / 2, 7 % 3, 7.0 / 2, 2 ^ 10, abs(-3), round(2.567, 2), ceil(2.1), floor(-2.1), mod(10, 4), sqrt(16.0)
----
?column? | ?column? | ?column? | ?column? | abs | round | ceil | floor | mod | sqrt
3 | 1 | 3.5000000000000000 | 1024 | 3 | 2.57 | 3 | -3 | 2 | 4
SELECT 1

SELECT '2024-01-31'::date + 1, '2024-01-31'::date + interval '1 month', date_trunc('month', timestamp '2024-05-17 10:11:12'), extract(year FROM date '2024-03-04'), timestamp '2024-01-02 00:00' - timestamp '2024-01-01 12:00'
----
?column? | ?column? | date_trunc | extract | ?column?
2024-02-01 | 2024-02-29 00:00:00 | 2024-05-01 00:00:00 | 2024 | 12:00:00
SELECT 1

SELECT now(), current_date, to_char(timestamp '2024-03-04 05:06:07', 'YYYY-MM-DD HH24:MI:SS')
----
now | current_date | to_char
2024-01-02 03:04:05+00 | 2024-01-02 | 2024-03-04 05:06:07
SELECT 1

SELECT 'abc' ILIKE 'A%', 'abc' LIKE '_b_', NULL IS NULL, NULL = NULL, 1 IS DISTINCT FROM NULL, true AND NULL, false AND NULL, true OR NULL
----
?column? | ?column? | ?column? | ?column? | ?column? | ?column? | ?column? | ?column?
true | true | true | NULL | true | NULL | false | true
SELECT 1

SELECT 'abc' ~ '^a.c$', 'ABC' ~ 'b', 'ABC' ~* 'b', 'abc' !~ 'x', 'abc' !~* 'B', 'abc' NOT LIKE 'a%', NULL ~ 'a'
----
?column? | ?column? | ?column? | ?column? | ?column? | ?column? | ?column?
true | false | true | true | false | false | NULL
SELECT 1

SELECT 'abc' ~ '('
----
ERROR 2201B: invalid regular expression: error parsing regexp: missing closing ): `(`

SELECT '42'::int + 1, 3.7::int, '1e3'::float8, 'true'::boolean, 10::text || 'x', '  5 '::int
----
?column? | int4 | float8 | bool | ?column? | int4
43 | 4 | 1000 | true | 10x | 5
SELECT 1

SELECT 'abc'::int
----
ERROR 22P02: invalid input syntax for type integer: "abc"

SELECT x, y FROM (VALUES (1, 'a'), (2, 'b')) AS v(x, y) ORDER BY x DESC
----
x | y
2 | b
1 | a
SELECT 2

SELECT count(*) FROM emp a CROSS JOIN emp b
----
count
25
SELECT 1

SELECT a.name, b.name FROM emp a JOIN emp b ON a.boss = b.id AND b.salary > 90 ORDER BY 1
----
name | name
bob | ann
cat | ann
SELECT 2

SELECT name FROM emp ORDER BY salary DESC NULLS LAST OFFSET 1 LIMIT 2
----
name
bob
cat
SELECT 2

SELECT id FROM emp WHERE name = 'zzz'
----
id
SELECT 0

SELECT name FROM emp e, emp f
----
ERROR 42702: column reference "name" is ambiguous

SELECT max(salary) FROM emp WHERE false
----
max
NULL
SELECT 1

SELECT name, salary FROM emp WHERE salary > (SELECT avg(salary) FROM emp) ORDER BY 1
----
name | salary
ann | 100
bob | 80
SELECT 2

SELECT gen_random_uuid() IS NOT NULL, version() LIKE 'PostgreSQL 15%', current_schema(), current_user
----
?column? | ?column? | current_schema | current_user
true | true | public | postgres
SELECT 1

SELECT 9223372036854775807::bigint + 1
----
ERROR 22003: bigint out of range

SELECT (SELECT id FROM emp)
----
ERROR 21000: more than one row returned by a subquery used as an expression

SELECT name, dept, row_number() OVER (PARTITION BY dept ORDER BY salary DESC NULLS LAST) AS rn, row_number() OVER () > 0 AS any FROM emp ORDER BY dept NULLS FIRST, rn
----
name | dept | rn | any
eve | NULL | 1 | true
ann | eng | 1 | true
bob | eng | 2 | true
cat | ops | 1 | true
dan | ops | 2 | true
SELECT 5

SELECT oid, typname FROM pg_type WHERE oid IN (25, 705) ORDER BY oid
----
oid | typname
25 | text
705 | unknown
SELECT 2
