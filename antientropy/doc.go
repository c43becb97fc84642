// Package antientropy finds replicas whose data disagree although raft gave
// them the same log (memory or disk corruption, a bad restore, a manual
// edit), pins the disagreement to rows, and repairs it through the log.
//
// A round, coordinated by the leader (Runner): propose a marker entry; every
// node freezes a copy-on-write view of its engine at exactly the marker's
// index (fsm.EncodeAEMark); compare per-table Merkle roots built on demand
// from the engine's leaves (Tree), descend only differing subtrees, split
// differing leaves further by key-hash bits (Bucket) until they are small,
// exchange (key, row hash) lists of those, and fetch only the rows that
// differ. The majority's images are proposed as a repair entry
// (fsm.EncodeAERepair) that every node applies except for keys written
// since the marker. Replica is the node side: the internal HTTP API and the
// read fence. See DESIGN.md for the reasoning.
//
// Imports: engine and replication; never fsm (the log entry encoders are
// injected through Config).
package antientropy
