// Package replication wires hashicorp/raft for HeliosDB-Lite: the raft log
// and stable store (raft-boltdb/v2 on bbolt), the snapshot store, the TCP
// transport, bootstrap of a single node or of a cluster discovered with
// hashicorp/memberlist, a leader-only membership reconciler, forwarding of
// writes and read-index requests from followers to the leader over HTTP, the
// linearizable read path and the quorum-loss recovery procedure.
//
// The package is handed a raft.FSM by its caller and knows nothing about
// what the log entries mean: it never imports the fsm or engine packages.
// A payload given to Apply is opaque bytes; the FSM's response travels back
// to a forwarding follower through a ResponseCodec.
//
// Lifecycle: Open returns a running *Node; every background goroutine is a
// runX method started through Node.goFunc and stopped by Node.shutdownCh;
// Shutdown is safe to call more than once and waits for all of them.
//
// See DESIGN.md in this directory for why things are the way they are
// (non-voters first, timeouts, forwarding, the read path, recovery).
package replication
