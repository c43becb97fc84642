package antientropy

import (
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

func TestTreeAndBuckets(t *testing.T) {
	leaves := make([]uint64, engine.NumLeaves)
	if BuildTree(leaves).Root() != 0 {
		t.Fatal("empty tree root must be 0")
	}
	a := BuildTree(leaves).Root()
	leaves[4095] = 7
	tr := BuildTree(leaves)
	if tr.Root() == a {
		t.Fatal("root did not change with a leaf")
	}
	if got := tr.Children(2, 255)[15]; got != 7 {
		t.Fatalf("leaf via Children = %d", got)
	}
	for _, tc := range []struct {
		key string
	}{{"a"}, {"b"}, {"\x00\x01"}, {"longer key 12345"}} {
		h := keyHash(tc.key)
		b := Bucket{Leaf: engine.LeafOf(tc.key)}
		for b.Depth < maxSubBits {
			if !b.contains(h) {
				t.Fatalf("%q not in its bucket %+v", tc.key, b)
			}
			b = b.child(b.childOf(h))
		}
		if !b.contains(h) {
			t.Fatalf("%q not in its deepest bucket", tc.key)
		}
	}
}
