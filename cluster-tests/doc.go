// Package clustertests runs real heliosdb-lite server processes as
// clusters on loopback and breaks them on purpose: SIGKILL and restart,
// SIGSTOP/SIGCONT, network partitions through a TCP proxy in front of
// every node's raft port, membership changes, quorum loss and recovery,
// and (compose_test.go) the docker compose cluster.
//
// Every test ends with EnsureSame: all running replicas hold identical
// data at the same applied index (every table's rows compared), and a
// cluster-wide dump then gives byte-identical files on every running
// member: the same canonical dump bytes at one LSN. Randomised tests print their seed;
// HELIOSDB_SEED=<seed> replays one. The chaos test records client
// operations and checks them with porcupine; HELIOSDB_CHAOS_DURATION
// makes it a long run (make chaos).
//
// Everything lives in _test.go files: this package exports nothing.
package clustertests
