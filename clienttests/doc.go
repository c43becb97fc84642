// Package clienttests drives the real heliosdb-lite binary (started through
// internal/proctest) with the clients users have: psql, pgx, psycopg2 and
// the JDBC driver from Debian's packages, and pgbench. It also kills the
// server during writes and feeds it bad protocol input.
//
// Each test skips, printing why, only when its client is not installed
// (CI installs postgresql, python3-psycopg2 and libpostgresql-jdbc-java
// through .ci/run). psql outputs are compared with golden files in
// testdata/psql produced by PostgreSQL 15 itself: `go test ./clienttests
// -run TestPsql -rewrite` starts a throwaway PostgreSQL 15 cluster (initdb
// in a temporary directory, as the postgres user when run as root), runs
// the same scripts and rewrites the .out files.
package clienttests
