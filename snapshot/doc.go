// Package snapshot implements the .heliodump file format: user dumps,
// incremental backups, cluster-wide dumps and raft snapshots are all the
// same file.
//
// A file is a 32-byte header (magic HELIODMP, format major.minor, the
// product version that wrote it) followed by self-delimited segments. A
// segment is a sequence of typed, length-prefixed, CRC32C-checked
// sections: a segment header (dump id, time, mode, LSN range, codec,
// source, table list), one schema section per table, row and tombstone
// batches (each compressed on its own), and a footer with per-table
// statistics, the engine's row-hash sums and a checksum chained over every
// section of the segment. The byte layout is specified in
// docs/heliodump-format.md; DESIGN.md beside this file explains why.
//
// Writing (Writer, WriteFull, WriteIncremental, AppendIncremental) streams
// with bounded memory and compresses batches on worker goroutines in
// parallel while keeping the output deterministic: the same state, dump id
// and creation time give the same bytes on every node. Reading (Reader,
// Load, LoadChain) verifies and decompresses in parallel, checks LSN
// continuity between segments and files, and proves a restore against
// the footer's row-hash sums. Verify, Inspect, DryRun and Salvage are the
// offline tools; their text output (report.go) is what the CLI prints.
//
// Errors: damaged input matches ErrCorrupt (a *CorruptError locates it:
// segment, table, batch, byte offset); an input that ends inside a
// segment also matches ErrTornTail; a newer format major is a
// *VersionError (ErrVersion).
package snapshot
