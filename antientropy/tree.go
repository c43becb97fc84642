package antientropy

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Fanout is the number of children of every Merkle node, above and below
// the engine's leaves. 16 = 4 bits of the key hash per level.
const Fanout = 16

const fanBits = 4

// treeLevels is the depth of the leaf level: Fanout^treeLevels leaves.
const treeLevels = engine.LeafBits / fanBits

// maxSubBits is how far below the engine's leaves the key hash can be
// split further (64 bits of hash minus the leaf bits).
const maxSubBits = 64 - engine.LeafBits

func init() {
	if engine.LeafBits%fanBits != 0 {
		panic("antientropy: engine.LeafBits must be a multiple of 4")
	}
}

// Tree is the Merkle tree of one table at one cut. Level treeLevels holds
// the engine's leaves (sum mod 2^64 of the row hashes whose key hash falls
// in the leaf); every inner node is xxhash of its Fanout children, or 0
// when they are all 0, so an empty table has root 0. Built on demand from
// the leaves in O(NumLeaves); nothing is maintained on the write path but
// the leaves themselves.
type Tree struct {
	levels [treeLevels + 1][]uint64
}

// BuildTree computes the inner nodes over leaves (len engine.NumLeaves).
func BuildTree(leaves []uint64) *Tree {
	t := &Tree{}
	t.levels[treeLevels] = leaves
	for l := treeLevels - 1; l >= 0; l-- {
		child := t.levels[l+1]
		cur := make([]uint64, len(child)/Fanout)
		for j := range cur {
			cur[j] = combine(child[j*Fanout : (j+1)*Fanout])
		}
		t.levels[l] = cur
	}
	return t
}

// Root is the tree's root hash.
func (t *Tree) Root() uint64 { return t.levels[0][0] }

// Children returns the Fanout children of node j at level (level <
// treeLevels); out of range gives nil.
func (t *Tree) Children(level, j int) []uint64 {
	if level < 0 || level >= treeLevels || j < 0 || (j+1)*Fanout > len(t.levels[level+1]) {
		return nil
	}
	return t.levels[level+1][j*Fanout : (j+1)*Fanout]
}

func combine(children []uint64) uint64 {
	var buf [Fanout * 8]byte
	zero := true
	for i, c := range children {
		if c != 0 {
			zero = false
		}
		binary.LittleEndian.PutUint64(buf[i*8:], c)
	}
	if zero {
		return 0
	}
	return xxhash.Sum64(buf[:])
}

// Bucket addresses a part of one leaf: the rows whose key hash starts with
// the leaf's bits and then the Depth bits of Prefix (Depth a multiple of 4,
// at most maxSubBits). Depth 0 is the whole leaf.
type Bucket struct {
	Leaf   int    `json:"l"`
	Depth  int    `json:"d,omitempty"`
	Prefix uint64 `json:"p,omitempty"`
}

// child returns the c-th child bucket.
func (b Bucket) child(c int) Bucket {
	return Bucket{Leaf: b.Leaf, Depth: b.Depth + fanBits, Prefix: b.Prefix<<fanBits | uint64(c)}
}

// keyHash is the hash that places a key in the leaves (engine.LeafOf uses
// its top bits).
func keyHash(key string) uint64 { return xxhash.Sum64String(key) }

// contains reports whether a key with hash h lies in b.
func (b Bucket) contains(h uint64) bool {
	if int(h>>(64-engine.LeafBits)) != b.Leaf {
		return false
	}
	if b.Depth == 0 {
		return true
	}
	sub := h << engine.LeafBits >> (64 - b.Depth)
	return sub == b.Prefix
}

// childOf returns which child of b a key hash in b falls into.
func (b Bucket) childOf(h uint64) int {
	return int(h << engine.LeafBits << b.Depth >> (64 - fanBits))
}

// RowEntry is one row as compared: its encoded primary key and row hash.
type RowEntry struct {
	Key  []byte `json:"k"`
	Hash uint64 `json:"h"`
}

// leafRow is a row of a leaf as a node keeps it during a round: the key
// (a view into the frozen snapshot), its key hash and its row hash.
type leafRow struct {
	key string
	kh  uint64
	h   uint64
}

// splitRows sums rows (all inside b) per child of b.
func splitRows(b Bucket, rows []RowEntry) (sums []uint64, counts []int) {
	sums, counts = make([]uint64, Fanout), make([]int, Fanout)
	for _, r := range rows {
		c := b.childOf(keyHash(string(r.Key)))
		sums[c] += r.Hash
		counts[c]++
	}
	return sums, counts
}

// filterRows keeps the rows that lie in b.
func filterRows(b Bucket, rows []RowEntry) []RowEntry {
	var out []RowEntry
	for _, r := range rows {
		if b.contains(keyHash(string(r.Key))) {
			out = append(out, r)
		}
	}
	return out
}

// rebuildLeaves computes, from the rows of a table as stored, the leaves
// the engine should hold, recomputing every row hash from the stored bytes
// (catching rows whose bytes no longer match their hash). The scan is
// paced by p; it returns false when p stopped it (round abandoned).
func rebuildLeaves(name string, t engine.Table, p *pacer) ([]uint64, bool) {
	leaves := make([]uint64, engine.NumLeaves)
	ok := true
	t.Scan(func(r engine.RowRef) bool {
		leaves[engine.LeafOf(r.Key)] += engine.RowHash(name, r.Key, r.Enc)
		ok = p.step()
		return ok
	})
	return leaves, ok
}

// defHash identifies a table's definition (replicas with different
// schemas cannot be repaired row by row).
func defHash(t engine.Table) uint64 {
	return xxhash.Sum64(engine.AppendTableDef(nil, t.Def()))
}
