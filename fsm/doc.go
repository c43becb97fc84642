// Package fsm adapts the engine to hashicorp/raft's FSM interface.
//
// It is deliberately thin (see rqlite's store/fsm.go): Apply decodes a log
// entry and hands it to the engine with LSN = the raft log index; Snapshot
// takes the engine's O(1) copy-on-write snapshot; Persist streams that
// snapshot into raft's sink as a .heliodump; Restore loads one. Everything
// interesting lives in engine and snapshot.
//
// Log entries carry a one-byte type before their payload so that new
// kinds of entries (dump markers, anti-entropy markers) can be added
// without changing the change-set encoding. A node that meets an entry
// type it does not know refuses it loudly rather than skipping it: skipping
// would make replicas silently differ.
package fsm
