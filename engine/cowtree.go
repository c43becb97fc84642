package engine

import (
	"sort"
	"sync/atomic"
)

// cowTree is an ordered copy-on-write B-tree of items identified by a
// string key. Its copy-on-write scheme is the idea tidwall/btree uses (each
// tree has an isolation id; a node is copied the first time a tree that
// does not own it writes to it); the implementation is this package's own
// and is shaped by the engine's memory and write paths:
//
//   - searches take the key as a string, so a lookup builds no probe item;
//   - node item arrays are sized to what they hold (grown on demand, never
//     beyond the node maximum), so memory follows the item count and not the
//     fill factor;
//   - Load (append after the last key) splits a full rightmost node by
//     moving only the new item right, leaving full nodes behind, where a
//     middle split would leave every node of a sequential load half empty;
//   - copying a node shares its item array until the copy writes to it, so
//     the inner nodes on the path of a write (whose items, the separators,
//     rarely change) copy only their children: one allocation less per
//     inner node copied, the most frequent copy when writes land at random
//     positions;
//   - a delete that leaves a node under the minimum evens it out with its
//     neighbour instead of borrowing one item, so a run of deletes at one
//     end (deletes in key order) rebalances once per many deletes, and a
//     removal shifts the shorter side of its array;
//   - the tree remembers the leaf its last write reached and the
//     separators around it (the finger): writes, deletes and lookups of
//     keys in key order or clustered skip the descent.
//
// Copy is O(1): both trees share nodes, and a node is copied the first time
// a tree that does not own it writes to it. After Copy the source must not
// be modified (published states never are), which is what lets Copy leave
// the source untouched and readers of it race-free.
type cowTree[T any] struct {
	iso   uint64
	root  *cowNode[T]
	count int
	max   int // items per node; a node has max+1 children at most
	keyOf func(T) string
	// find, when set, is search within one node's items without an
	// indirect keyOf call per comparison (searchRecs).
	find func(items []T, key string) (int, bool)
	// finger is the leaf the last Set or Load reached and the bounds of
	// the keys it holds: a Set, Load or Get of a key within them goes to
	// the leaf without a descent (writes that come in key order, or
	// clustered, as rows, tombstones and many indexes get them). It is
	// used only while the leaf is owned by this tree (a copy of the tree
	// starts over), and cleared by every split and delete, the only
	// changes that move bounds or leaves.
	finger      *cowNode[T]
	fingerRange bounds[T]
}

// bounds are the separators around a subtree: lo and hi are items of
// owned ancestors (nil: unbounded on that side).
type bounds[T any] struct {
	lo, hi   *cowNode[T]
	loI, hiI int
}

// minItems is the fill under which a delete rebalances a node.
func (tr *cowTree[T]) minItems() int { return tr.max / 2 }

// child returns the bounds of child i of n, whose keys lie within b.
func (b bounds[T]) child(n *cowNode[T], i int) bounds[T] {
	if i > 0 {
		b.lo, b.loI = n, i-1
	}
	if i < len(n.items) {
		b.hi, b.hiI = n, i
	}
	return b
}

// fingerHolds reports whether key lies strictly between the finger's
// bounds, so that it is in the finger leaf if it is anywhere.
func (tr *cowTree[T]) fingerHolds(key string) bool {
	f := tr.finger
	if f == nil || f.iso != tr.iso {
		return false
	}
	r := &tr.fingerRange
	return (r.lo == nil || tr.keyOf(r.lo.items[r.loI]) < key) && (r.hi == nil || key < tr.keyOf(r.hi.items[r.hiI]))
}

type cowNode[T any] struct {
	iso      uint64
	items    []T
	children []*cowNode[T] // nil for a leaf
	// shared: items is the array of the node this one was copied from, to
	// be copied before the first write (ownItems).
	shared bool
}

var cowIsoSeq atomic.Uint64

func newCowTree[T any](maxItems int, keyOf func(T) string) *cowTree[T] {
	return &cowTree[T]{iso: cowIsoSeq.Add(1), max: maxItems, keyOf: keyOf}
}

// Copy returns a tree sharing every node with tr. tr must not be modified
// afterwards.
func (tr *cowTree[T]) Copy() *cowTree[T] {
	c := *tr
	c.iso = cowIsoSeq.Add(1)
	return &c
}

// Len returns the number of items.
func (tr *cowTree[T]) Len() int { return tr.count }

func (n *cowNode[T]) leaf() bool { return n.children == nil }

// search returns the position of key in n, or where it would be inserted.
func (tr *cowTree[T]) search(n *cowNode[T], key string) (int, bool) {
	if tr.find != nil {
		return tr.find(n.items, key)
	}
	i := sort.Search(len(n.items), func(i int) bool { return tr.keyOf(n.items[i]) >= key })
	return i, i < len(n.items) && tr.keyOf(n.items[i]) == key
}

// mut returns *cn owned by tr, copying it first if it is shared. The copy
// shares n's items until it writes to them (ownItems, insertItem,
// removeItem).
func (tr *cowTree[T]) mut(cn **cowNode[T]) *cowNode[T] {
	n := *cn
	if n.iso == tr.iso {
		return n
	}
	c := &cowNode[T]{iso: tr.iso, items: n.items, shared: true}
	if n.children != nil {
		c.children = make([]*cowNode[T], len(n.children), min(tr.max+1, len(n.children)+1))
		copy(c.children, n.children)
	}
	*cn = c
	return c
}

// itemArray returns a new array of length l, with room for one more
// item, for the node n (owned by tr, sharing its items) to take as its
// own.
func (tr *cowTree[T]) itemArray(n *cowNode[T], l int) []T {
	return make([]T, l, min(tr.max, l+1))
}

// ownItems gives the node n owned by tr its own copy of its items if it
// still shares them. Every write to items goes through it (or through
// insertItem and removeItem, which copy and write in one pass).
func (tr *cowTree[T]) ownItems(n *cowNode[T]) {
	if n.shared {
		items := tr.itemArray(n, len(n.items))
		copy(items, n.items)
		n.items, n.shared = items, false
	}
}

// insertItem inserts item at i of the owned node n.
func (tr *cowTree[T]) insertItem(n *cowNode[T], i int, item T) {
	if n.shared {
		items := tr.itemArray(n, len(n.items)+1)
		copy(items, n.items[:i])
		items[i] = item
		copy(items[i+1:], n.items[i:])
		n.items, n.shared = items, false
		return
	}
	n.items = insertAt(n.items, i, item, tr.max)
}

// removeItem removes item i of the owned node n and returns it.
func (tr *cowTree[T]) removeItem(n *cowNode[T], i int) T {
	prev := n.items[i]
	if n.shared {
		items := tr.itemArray(n, len(n.items)-1)
		copy(items, n.items[:i])
		copy(items[i:], n.items[i+1:])
		n.items, n.shared = items, false
		return prev
	}
	n.items = removeAt(n.items, i)
	return prev
}

// setItem replaces item i of the owned node n and returns the old one.
func (tr *cowTree[T]) setItem(n *cowNode[T], i int, item T) T {
	tr.ownItems(n)
	prev := n.items[i]
	n.items[i] = item
	return prev
}

// insertAt inserts v at i of s, growing s to at most limit.
func insertAt[E any](s []E, i int, v E, limit int) []E {
	if len(s) == cap(s) {
		ns := make([]E, len(s), min(limit, max(4, 2*len(s))))
		copy(ns, s)
		s = ns
	}
	s = s[:len(s)+1]
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// removeAt removes element i of s, shifting the shorter side: removing
// near the front moves the front up and gives up the first slot of the
// array (insertAt reallocates when the room runs out).
func removeAt[E any](s []E, i int) []E {
	var zero E
	if i < len(s)/2 {
		copy(s[1:i+1], s[:i])
		s[0] = zero
		return s[1:]
	}
	copy(s[i:], s[i+1:])
	s[len(s)-1] = zero
	return s[:len(s)-1]
}

// Get returns the item with the given key.
func (tr *cowTree[T]) Get(key string) (T, bool) {
	n := tr.root
	if tr.fingerHolds(key) {
		n = tr.finger
	}
	for n != nil {
		i, found := tr.search(n, key)
		if found {
			return n.items[i], true
		}
		if n.leaf() {
			break
		}
		n = n.children[i]
	}
	var zero T
	return zero, false
}

// Set inserts item, or replaces the item with the same key and returns it.
func (tr *cowTree[T]) Set(item T) (prev T, replaced bool) {
	return tr.set(item, false)
}

// Load is Set for an item that most likely sorts after every item (a
// sequential load): it appends without a search and splits full nodes at
// their end. Any other item is Set.
func (tr *cowTree[T]) Load(item T) (prev T, replaced bool) {
	if tr.root == nil {
		return tr.set(item, false)
	}
	key := tr.keyOf(item)
	n := tr.root
	for !n.leaf() {
		n = n.children[len(n.children)-1]
	}
	if tr.keyOf(n.items[len(n.items)-1]) >= key {
		return tr.set(item, false)
	}
	if len(n.items) < tr.max {
		n = tr.mut(&tr.root)
		for !n.leaf() {
			n = tr.mut(&n.children[len(n.children)-1])
		}
		tr.insertItem(n, len(n.items), item)
		tr.count++
		var zero T
		return zero, false
	}
	return tr.set(item, true)
}

func (tr *cowTree[T]) set(item T, appending bool) (prev T, replaced bool) {
	if tr.root == nil {
		tr.root = &cowNode[T]{iso: tr.iso, items: make([]T, 1)}
		tr.root.items[0] = item
		tr.count = 1
		return prev, false
	}
	key := tr.keyOf(item)
	if prev, replaced, ok := tr.setFinger(item, key); ok {
		return prev, replaced
	}
	prev, replaced, split := tr.nodeSet(&tr.root, item, key, appending, bounds[T]{})
	if split {
		tr.finger = nil
		left := tr.mut(&tr.root)
		right, median := tr.split(left, appending)
		root := &cowNode[T]{iso: tr.iso, items: make([]T, 1, 4), children: make([]*cowNode[T], 2, 5)}
		root.items[0] = median
		root.children[0], root.children[1] = left, right
		tr.root = root
		return tr.set(item, appending)
	}
	if !replaced {
		tr.count++
	}
	return prev, replaced
}

// setFinger sets item in the finger leaf if its key belongs there and the
// leaf has room (ok), without a descent.
func (tr *cowTree[T]) setFinger(item T, key string) (prev T, replaced, ok bool) {
	if !tr.fingerHolds(key) {
		return prev, false, false
	}
	n := tr.finger
	i, found := tr.search(n, key)
	if found {
		return tr.setItem(n, i, item), true, true
	}
	if len(n.items) == tr.max {
		return prev, false, false
	}
	tr.insertItem(n, i, item)
	tr.count++
	return prev, false, true
}

// split moves the upper part of a full node n into a new right node and
// returns it with the median item. An appending split keeps n full.
func (tr *cowTree[T]) split(n *cowNode[T], appending bool) (*cowNode[T], T) {
	i := tr.max / 2
	if appending {
		i = tr.max - 1
	}
	median := n.items[i]
	right := &cowNode[T]{iso: tr.iso}
	right.items = make([]T, len(n.items)-i-1, max(4, len(n.items)-i))
	copy(right.items, n.items[i+1:])
	if !n.leaf() {
		right.children = make([]*cowNode[T], len(n.children)-i-1, max(4, len(n.children)-i))
		copy(right.children, n.children[i+1:])
		clear(n.children[i+1:])
		n.children = n.children[:i+1]
	}
	if n.shared {
		// Copy only the half that stays.
		left := tr.itemArray(n, i)
		copy(left, n.items)
		n.items, n.shared = left, false
	} else {
		clear(n.items[i:])
		n.items = n.items[:i]
	}
	return right, median
}

// nodeSet sets item in the subtree at cn, whose keys lie within b.
func (tr *cowTree[T]) nodeSet(cn **cowNode[T], item T, key string, appending bool, b bounds[T]) (prev T, replaced, split bool) {
	n := *cn
	i, found := tr.search(n, key)
	if found {
		n = tr.mut(cn)
		if n.leaf() {
			tr.finger, tr.fingerRange = n, b
		}
		return tr.setItem(n, i, item), true, false
	}
	if n.leaf() {
		if len(n.items) == tr.max {
			return prev, false, true
		}
		n = tr.mut(cn)
		tr.insertItem(n, i, item)
		tr.finger, tr.fingerRange = n, b
		return prev, false, false
	}
	n = tr.mut(cn)
	prev, replaced, split = tr.nodeSet(&n.children[i], item, key, appending, b.child(n, i))
	if split {
		tr.finger = nil
		if len(n.items) == tr.max {
			return prev, false, true
		}
		child := tr.mut(&n.children[i])
		right, median := tr.split(child, appending)
		n.children = insertAt(n.children, i+1, right, tr.max+1)
		tr.insertItem(n, i, median)
		return tr.nodeSet(cn, item, key, appending, b)
	}
	return prev, replaced, false
}

// Delete removes the item with the given key and returns it. Deleting an
// absent key copies the nodes on its path all the same: callers that do not
// know whether the key is present ask Get first.
func (tr *cowTree[T]) Delete(key string) (T, bool) {
	if tr.root == nil {
		var zero T
		return zero, false
	}
	if prev, deleted, ok := tr.deleteFinger(key); ok {
		return prev, deleted
	}
	return tr.deleteWith(key, nil)
}

// deleteFinger deletes key from the finger leaf if the key belongs there
// and the leaf keeps at least the minimum (no rebalance, so no separator
// moves and the finger stays valid); ok is false otherwise. A key that
// belongs there and is absent is absent from the tree.
func (tr *cowTree[T]) deleteFinger(key string) (prev T, deleted, ok bool) {
	if !tr.fingerHolds(key) {
		return prev, false, false
	}
	n := tr.finger
	i, found := tr.search(n, key)
	if !found {
		return prev, false, true
	}
	if len(n.items) <= tr.minItems() {
		return prev, false, false
	}
	tr.count--
	return tr.removeItem(n, i), true, true
}

// maxPath bounds the depth DeleteIfPresent records (a tree of 15-item
// nodes this deep would hold more than 2^60 items).
const maxPath = 24

// DeleteIfPresent is Delete for a key that may be absent: one read-only
// search finds it (copying nothing when it is absent) and the delete
// reuses the positions found instead of searching again.
func (tr *cowTree[T]) DeleteIfPresent(key string) (T, bool) {
	var zero T
	if tr.root == nil {
		return zero, false
	}
	if prev, deleted, ok := tr.deleteFinger(key); ok {
		return prev, deleted
	}
	var path [maxPath]int32
	n := tr.root
	for d := 0; n != nil && d < maxPath; d++ {
		i, found := tr.search(n, key)
		path[d] = int32(i)
		if found {
			return tr.deleteWith(key, path[:d+1])
		}
		if n.leaf() {
			return zero, false
		}
		n = n.children[i]
	}
	if n == nil {
		return zero, false
	}
	return tr.Delete(key) // deeper than maxPath: not reached in practice
}

// deleteWith deletes key; path, when given, holds the key's position in
// each node from the root down to the node that has it.
func (tr *cowTree[T]) deleteWith(key string, path []int32) (T, bool) {
	tr.finger = nil // delete sets it again if nothing moved
	prev, deleted := tr.delete(&tr.root, false, key, path, bounds[T]{})
	if !deleted {
		return prev, false
	}
	if len(tr.root.items) == 0 && !tr.root.leaf() {
		tr.root = tr.root.children[0]
	}
	tr.count--
	if tr.count == 0 {
		tr.root = nil
	}
	return prev, true
}

// delete removes key from the subtree at cn (whose keys lie within b), or
// its greatest item when maxItem is set (used to refill an inner node).
// path, when not empty, is the key's position in this node and those
// below (DeleteIfPresent): the last one is where the key is. A key
// removed from a leaf that keeps the minimum makes the leaf the finger,
// which any rebalance on the way back up clears again.
func (tr *cowTree[T]) delete(cn **cowNode[T], maxItem bool, key string, path []int32, b bounds[T]) (T, bool) {
	var zero T
	n := *cn
	var i int
	var found bool
	switch {
	case maxItem:
		i, found = len(n.items)-1, true
	case len(path) > 0:
		i, found = int(path[0]), len(path) == 1
	default:
		i, found = tr.search(n, key)
	}
	if n.leaf() {
		if !found {
			return zero, false
		}
		n = tr.mut(cn)
		prev := tr.removeItem(n, i)
		if !maxItem && len(n.items) >= tr.minItems() {
			tr.finger, tr.fingerRange = n, b
		}
		return prev, true
	}
	n = tr.mut(cn)
	var prev T
	if found {
		if maxItem {
			i++
			prev, _ = tr.delete(&n.children[i], true, "", nil, b)
		} else {
			pred, _ := tr.delete(&n.children[i], true, "", nil, b)
			prev = tr.setItem(n, i, pred)
		}
	} else {
		if len(path) > 0 {
			path = path[1:]
		}
		var deleted bool
		if prev, deleted = tr.delete(&n.children[i], false, key, path, b.child(n, i)); !deleted {
			return zero, false
		}
	}
	if len(n.children[i].items) < tr.minItems() {
		tr.rebalance(n, i)
	}
	return prev, true
}

// rebalance refills child i of n (owned by tr) after a delete left it
// under the minimum: it merges it with a neighbour, or moves items over
// from the neighbour until both hold about the same number.
func (tr *cowTree[T]) rebalance(n *cowNode[T], i int) {
	tr.finger = nil
	if i == len(n.items) {
		i--
	}
	if l, r := n.children[i], n.children[i+1]; len(l.items)+len(r.items) < tr.max {
		left := tr.mut(&n.children[i]) // the right node goes: it is only read
		items := make([]T, 0, len(l.items)+1+len(r.items))
		left.items = append(append(append(items, left.items...), n.items[i]), r.items...)
		left.shared = false
		if !left.leaf() {
			children := make([]*cowNode[T], 0, len(left.children)+len(r.children))
			left.children = append(append(children, left.children...), r.children...)
		}
		tr.removeItem(n, i)
		n.children = removeAt(n.children, i+1)
		return
	}
	left := tr.mut(&n.children[i])
	right := tr.mut(&n.children[i+1])
	sep := n.items[i]
	if len(left.items) > len(right.items) {
		// right = left's last k-1 items, sep, right; left's item before
		// them is the new separator.
		k := (len(left.items) - len(right.items)) / 2
		keep := len(left.items) - k
		items := make([]T, k+len(right.items), min(tr.max, k+len(right.items)+1))
		copy(items, left.items[keep+1:])
		items[k-1] = sep
		copy(items[k:], right.items)
		right.items, right.shared = items, false
		tr.setItem(n, i, left.items[keep])
		tr.truncItems(left, keep)
		if !left.leaf() {
			cs := make([]*cowNode[T], k+len(right.children), min(tr.max+1, k+len(right.children)+1))
			copy(cs, left.children[keep+1:])
			copy(cs[k:], right.children)
			right.children = cs
			clear(left.children[keep+1:])
			left.children = left.children[:keep+1]
		}
		return
	}
	// left = left, sep, right's first k-1 items; right's k-th item is the
	// new separator.
	k := (len(right.items) - len(left.items)) / 2
	items := make([]T, len(left.items)+k, min(tr.max, len(left.items)+k+1))
	copy(items, left.items)
	items[len(left.items)] = sep
	copy(items[len(left.items)+1:], right.items[:k-1])
	left.items, left.shared = items, false
	tr.setItem(n, i, right.items[k-1])
	tr.dropItems(right, k)
	if !left.leaf() {
		left.children = append(left.children, right.children[:k]...)
		m := copy(right.children, right.children[k:])
		clear(right.children[m:])
		right.children = right.children[:m]
	}
}

// truncItems keeps the first l items of the owned node n.
func (tr *cowTree[T]) truncItems(n *cowNode[T], l int) {
	if n.shared {
		items := tr.itemArray(n, l)
		copy(items, n.items)
		n.items, n.shared = items, false
		return
	}
	clear(n.items[l:])
	n.items = n.items[:l]
}

// dropItems removes the first k items of the owned node n.
func (tr *cowTree[T]) dropItems(n *cowNode[T], k int) {
	if n.shared {
		items := tr.itemArray(n, len(n.items)-k)
		copy(items, n.items[k:])
		n.items, n.shared = items, false
		return
	}
	m := copy(n.items, n.items[k:])
	clear(n.items[m:])
	n.items = n.items[:m]
}

// Scan calls fn for every item in key order until fn returns false.
func (tr *cowTree[T]) Scan(fn func(T) bool) {
	if tr.root != nil {
		tr.scan(tr.root, fn)
	}
}

func (tr *cowTree[T]) scan(n *cowNode[T], fn func(T) bool) bool {
	if n.leaf() {
		for _, it := range n.items {
			if !fn(it) {
				return false
			}
		}
		return true
	}
	for i, it := range n.items {
		if !tr.scan(n.children[i], fn) || !fn(it) {
			return false
		}
	}
	return tr.scan(n.children[len(n.children)-1], fn)
}

// Ascend calls fn for the items with key >= from in key order until fn
// returns false.
func (tr *cowTree[T]) Ascend(from string, fn func(T) bool) {
	if tr.root != nil {
		tr.ascend(tr.root, from, fn)
	}
}

func (tr *cowTree[T]) ascend(n *cowNode[T], from string, fn func(T) bool) bool {
	i, found := tr.search(n, from)
	if !found && !n.leaf() {
		if !tr.ascend(n.children[i], from, fn) {
			return false
		}
	}
	for ; i < len(n.items); i++ {
		if !fn(n.items[i]) {
			return false
		}
		if !n.leaf() && !tr.scan(n.children[i+1], fn) {
			return false
		}
	}
	return true
}

// Reverse calls fn for every item in descending key order until fn
// returns false.
func (tr *cowTree[T]) Reverse(fn func(T) bool) {
	if tr.root != nil {
		tr.reverse(tr.root, fn)
	}
}

func (tr *cowTree[T]) reverse(n *cowNode[T], fn func(T) bool) bool {
	if n.leaf() {
		for i := len(n.items) - 1; i >= 0; i-- {
			if !fn(n.items[i]) {
				return false
			}
		}
		return true
	}
	if !tr.reverse(n.children[len(n.children)-1], fn) {
		return false
	}
	for i := len(n.items) - 1; i >= 0; i-- {
		if !fn(n.items[i]) || !tr.reverse(n.children[i], fn) {
			return false
		}
	}
	return true
}
