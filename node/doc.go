// Package node is the composition root of one HeliosDB-Lite server. It
// wires the engine, the raft FSM, replication, the SQL layer and the
// PostgreSQL protocol server together, serves the admin HTTP API (health,
// readiness, metrics, members, internal raft RPCs), and owns the lifecycle:
// start order, and shutdown in the reverse order (stop accepting clients,
// drain sessions, stop raft, close stores).
package node
