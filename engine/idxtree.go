package engine

import (
	"slices"
	"strings"
	"unsafe"
)

// idxTree is the ordered copy-on-write set of a secondary index's entries
// (index key followed by primary key, see idxItem). It is a B+tree shaped
// for the random-position single-entry writes indexes take:
//
//   - a leaf is one allocation without pointers: a header, the end offsets
//     of its keys and the keys themselves packed in key order. Copying a
//     leaf (the first write to it after a Copy) is one allocation the
//     garbage collector never scans, entries cost no allocation of their
//     own, and a search within a leaf reads one run of memory instead of
//     one separately allocated entry per comparison;
//   - an inner node holds its children in one allocation and its
//     separators packed as a leaf's keys are (a slab, copied on write as a
//     leaf is: copies of the node share it until one writes to it);
//   - a leaf is full at idxLeafMax keys or about idxLeafData bytes of keys;
//     a full node that takes a key after all of its own (appends, runs
//     in key order) keeps its keys and starts a new node, so sequential
//     loads leave full nodes behind;
//   - a delete rebalances a node only under a quarter full, merging it
//     with a neighbour or evening the two out;
//   - the tree remembers the slots of the leaves its last two writes
//     reached and the separators around them (the fingers): writes and
//     deletes of keys in key order or clustered, or alternating between
//     two such runs (updates), skip the descent.
//
// Copy is O(1) as for cowTree: every node carries the isolation id of the
// tree that created it, and a tree writes in place only to its own nodes.
// After Copy the source must not be modified (published states never are).
// Keys handed to Scan and Ascend callbacks alias the leaves: they stay
// valid as long as the tree is not modified (forever in a published
// tree); callers that keep one while writing must copy it.
type idxTree struct {
	iso    uint64
	root   unsafe.Pointer // *idxLeaf at height 0, else *idxInner; nil when empty
	height int
	count  int
	// fingers: the two leaves the last writes reached, most recent first
	// (an update deletes an entry in one place and inserts one in
	// another, both often in key order). Every split, merge and
	// rebalance clears them.
	fingers [2]idxFinger
}

// idxFinger is the slot (a parent's child pointer, or root) of a leaf
// owned by the tree, and the separators around it: the leaf holds exactly
// the keys k of the tree with lo <= k < hi (a side without its has flag
// is unbounded).
type idxFinger struct {
	slot         *unsafe.Pointer
	lo, hi       string
	hasLo, hasHi bool
}

// Node sizes of index trees.
const (
	idxLeafMax  = 16   // keys per leaf
	idxLeafData = 2048 // bytes of keys per leaf, a soft bound (a key may exceed it)
	idxKidsMax  = 16   // children per inner node
)

// idxLeaf is the header of a leaf (or of an inner node's separator
// slab). The offsets of its keys follow it in the same allocation, oc+1
// of them (uint16, or uint32 in a wide leaf, one whose keys take more
// than 64 KB), then the key bytes (dcap bytes of room): key i is
// data[off(i):off(i+1)], off(0) is 0.
type idxLeaf struct {
	iso  uint64
	n    uint16
	oc   uint8 // most keys: idxLeafMax, or idxKidsMax-1 in a slab
	wide uint8 // 1: uint32 offsets
	dcap uint32
}

const (
	idxLeafHdr  = unsafe.Sizeof(idxLeaf{})
	narrowBytes = 1<<16 - 1 // most key bytes of a narrow leaf
	idxSlabMax  = idxKidsMax - 1
)

func (l *idxLeaf) off(i int) int {
	p := unsafe.Add(unsafe.Pointer(l), idxLeafHdr)
	if l.wide != 0 {
		return int(*(*uint32)(unsafe.Add(p, 4*i)))
	}
	return int(*(*uint16)(unsafe.Add(p, 2*i)))
}

func (l *idxLeaf) setOff(i, v int) {
	p := unsafe.Add(unsafe.Pointer(l), idxLeafHdr)
	if l.wide != 0 {
		*(*uint32)(unsafe.Add(p, 4*i)) = uint32(v)
		return
	}
	*(*uint16)(unsafe.Add(p, 2*i)) = uint16(v)
}

// base returns the address of the key bytes.
func (l *idxLeaf) base() unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(l), idxLeafHdr+uintptr(l.oc+1)<<(1+l.wide))
}

// idxInner is an inner node: child i holds the keys k with
// sep(i-1) <= k < sep(i).
type idxInner struct {
	iso    uint64
	seps   *idxLeaf         // len(kids)-1 separators; never written once built
	kids   []unsafe.Pointer // kidArr[:len]
	kidArr [idxKidsMax]unsafe.Pointer
}

func (n *idxInner) sep(i int) string { return n.seps.key(i) }

// sepList appends n's separators to buf.
func (n *idxInner) sepList(buf []string) []string {
	for i := 0; i < int(n.seps.n); i++ {
		buf = append(buf, n.seps.key(i))
	}
	return buf
}

// bound is one side of the key range of a subtree: separator i of n
// (read only when needed, for a finger), or unbounded when n is nil.
type bound struct {
	n *idxInner
	i int
}

func (b bound) ok() bool { return b.n != nil }

func (b bound) key() string {
	if b.n == nil {
		return ""
	}
	return b.n.sep(b.i)
}

func newIdxTree() *btreeIdx { return &idxTree{iso: cowIsoSeq.Add(1)} }

// Copy returns a tree sharing every node with tr. tr must not be modified
// afterwards.
func (tr *idxTree) Copy() *idxTree {
	c := *tr
	c.iso = cowIsoSeq.Add(1)
	c.fingers = [2]idxFinger{}
	return &c
}

// Len returns the number of entries.
func (tr *idxTree) Len() int { return tr.count }

// Set inserts an entry (no change if present).
func (tr *idxTree) Set(it idxItem) bool { return tr.insert(string(it)) }

// Load is Set; entries that come in key order fill nodes (see idxTree).
func (tr *idxTree) Load(it idxItem) bool { return tr.insert(string(it)) }

// allocLeaf returns an empty leaf owned by iso with room for at least
// data bytes of keys (all the allocation's size class has). Its memory
// holds no pointers and is not zeroed (strings.Builder allocates without
// clearing): every field is written before it is read (n and the offsets
// up to n by whoever fills the leaf).
func allocLeaf(iso uint64, oc, data int) *idxLeaf {
	hdr := int(idxLeafHdr) + 2*(oc+1)
	if data > narrowBytes {
		hdr = int(idxLeafHdr) + 4*(oc+1)
	}
	var sb strings.Builder
	sb.Grow(hdr + max(data, 1)) // base() points inside the allocation
	sb.WriteByte(0)
	l := (*idxLeaf)(unsafe.Pointer(unsafe.StringData(sb.String())))
	l.iso, l.oc = iso, uint8(oc)
	l.wide = 0
	l.dcap = uint32(min(sb.Cap()-hdr, narrowBytes))
	if data > narrowBytes {
		l.wide = 1
		l.dcap = uint32(sb.Cap() - hdr)
	}
	return l
}

// data returns the leaf's key bytes (its whole room).
func (l *idxLeaf) data() []byte { return unsafe.Slice((*byte)(l.base()), l.dcap) }

func (l *idxLeaf) used() int { return l.off(int(l.n)) }

// key returns key i, aliasing the leaf.
func (l *idxLeaf) key(i int) string {
	s, e := l.off(i), l.off(i+1)
	if s == e {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Add(l.base(), s)), e-s)
}

// search returns the position of k in l, or where it would be inserted.
func (l *idxLeaf) search(k string) (int, bool) {
	if l.wide != 0 {
		return l.searchWide(k)
	}
	p := unsafe.Add(unsafe.Pointer(l), idxLeafHdr)
	offs := unsafe.Slice((*uint16)(p), int(l.oc)+1)
	base := unsafe.Add(p, 2*len(offs))
	lo, hi := 0, min(int(l.n), len(offs)-1)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		s, e := offs[h], offs[h+1]
		c := strings.Compare(unsafe.String((*byte)(unsafe.Add(base, s)), e-s), k)
		switch {
		case c == 0:
			return h, true
		case c < 0:
			lo = h + 1
		default:
			hi = h
		}
	}
	return lo, false
}

// searchWide is search in a wide leaf.
func (l *idxLeaf) searchWide(k string) (int, bool) {
	base := l.base()
	lo, hi := 0, int(l.n)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		s, e := l.off(h), l.off(h+1)
		c := strings.Compare(unsafe.String((*byte)(unsafe.Add(base, s)), e-s), k)
		switch {
		case c == 0:
			return h, true
		case c < 0:
			lo = h + 1
		default:
			hi = h
		}
	}
	return lo, false
}

// full reports whether l must split to take a key of kl bytes.
func (l *idxLeaf) full(kl int) bool {
	return l.n == idxLeafMax || l.n > 0 && l.used()+kl > idxLeafData
}

// under reports whether l is under a quarter full, in keys and bytes.
func (l *idxLeaf) under() bool {
	return l.n < idxLeafMax/4 && l.used() < idxLeafData/4
}

// fill writes keys into the empty leaf l.
func (l *idxLeaf) fill(keys []string) {
	d := l.data()
	off := 0
	for i, k := range keys {
		l.setOff(i, off)
		off += copy(d[off:], k)
	}
	l.n = uint16(len(keys))
	l.setOff(len(keys), off)
}

// leafOf returns a new leaf of keys, with room for room bytes of keys
// at least.
func (tr *idxTree) leafOf(keys []string, oc, room int) *idxLeaf {
	sz := 0
	for _, k := range keys {
		sz += len(k)
	}
	l := allocLeaf(tr.iso, oc, max(sz, room))
	l.fill(keys)
	return l
}

// leafInsert inserts k at position i of the leaf l (which has room for
// one more key) and returns the leaf: l, written in place when tr owns l
// and it has the bytes, or a copy. A copy of a leaf of tr's own (in
// which keys keep coming) gets room for a full leaf of such keys; any
// other copy gets the room it needs (a random-position write seldom
// comes back to the same leaf before the tree is copied again).
// Separator slabs of inner nodes are written the same way.
func (tr *idxTree) leafInsert(l *idxLeaf, i int, k string) *idxLeaf {
	used, n, at := l.used(), int(l.n), l.off(i)
	kl := len(k)
	if l.iso == tr.iso && used+len(k) <= int(l.dcap) {
		d := l.data()
		copy(d[at+len(k):used+len(k)], d[at:used])
		copy(d[at:], k)
		for j := n + 1; j > i; j-- {
			l.setOff(j, l.off(j-1)+kl)
		}
		l.n++
		return l
	}
	room := used + len(k)
	if l.iso == tr.iso {
		room = max(room, min(room/(n+1)*idxLeafMax, idxLeafData+len(k)))
	}
	c := allocLeaf(tr.iso, int(l.oc), room)
	d, od := c.data(), l.data()
	copy(d, od[:at])
	copy(d[at:], k)
	copy(d[at+len(k):], od[at:used])
	for j := 0; j <= i; j++ {
		c.setOff(j, l.off(j))
	}
	for j := i + 1; j <= n+1; j++ {
		c.setOff(j, l.off(j-1)+kl)
	}
	c.n = uint16(n + 1)
	return c
}

// leafRemove removes key i of the leaf l and returns the leaf: l, written
// in place when tr owns it, or a copy.
func (tr *idxTree) leafRemove(l *idxLeaf, i int) *idxLeaf {
	used, n := l.used(), int(l.n)
	s, e := l.off(i), l.off(i+1)
	kl := e - s
	if l.iso == tr.iso {
		d := l.data()
		copy(d[s:], d[e:used])
		for j := i + 1; j < n; j++ {
			l.setOff(j, l.off(j+1)-kl)
		}
		l.n--
		return l
	}
	c := allocLeaf(tr.iso, int(l.oc), used-kl)
	d, od := c.data(), l.data()
	copy(d, od[:s])
	copy(d[s:], od[e:used])
	for j := 0; j <= i; j++ {
		c.setOff(j, l.off(j))
	}
	for j := i + 1; j < n; j++ {
		c.setOff(j, l.off(j+1)-kl)
	}
	c.n = uint16(n - 1)
	return c
}

// childFor returns the child of n whose range holds k.
func (n *idxInner) childFor(k string) int {
	i, found := n.seps.search(k)
	if found {
		i++
	}
	return i
}

// bounds returns the key range of child i of n, whose range is lo, hi.
func (n *idxInner) bounds(i int, lo, hi bound) (bound, bound) {
	if i > 0 {
		lo = bound{n, i - 1}
	}
	if i < int(n.seps.n) {
		hi = bound{n, i}
	}
	return lo, hi
}

func (tr *idxTree) newInner(kids []unsafe.Pointer, seps []string) *idxInner {
	n := &idxInner{iso: tr.iso, seps: tr.leafOf(seps, idxSlabMax, 0)}
	n.kids = n.kidArr[:len(kids)]
	copy(n.kids, kids)
	return n
}

// mutInner returns the inner node at slot owned by tr, copying it first
// if it is not (the copy shares its separators).
func (tr *idxTree) mutInner(slot *unsafe.Pointer) *idxInner {
	n := (*idxInner)(*slot)
	if n.iso == tr.iso {
		return n
	}
	c := &idxInner{iso: tr.iso, seps: n.seps}
	c.kids = c.kidArr[:len(n.kids)]
	copy(c.kids, n.kids)
	*slot = unsafe.Pointer(c)
	return c
}

func (tr *idxTree) setFinger(slot *unsafe.Pointer, lo, hi bound) {
	if tr.fingers[0].slot != slot {
		tr.fingers[1] = tr.fingers[0]
	}
	tr.fingers[0] = idxFinger{slot, lo.key(), hi.key(), lo.ok(), hi.ok()}
}

func (tr *idxTree) clearFingers() { tr.fingers = [2]idxFinger{} }

// finger returns the finger leaf k belongs to, if any, and its slot.
func (tr *idxTree) finger(k string) (*idxLeaf, *unsafe.Pointer) {
	for i := range tr.fingers {
		f := &tr.fingers[i]
		if f.slot == nil {
			break
		}
		l := (*idxLeaf)(*f.slot)
		if l.iso == tr.iso && (!f.hasLo || k >= f.lo) && (!f.hasHi || k < f.hi) {
			return l, f.slot
		}
	}
	return nil, nil
}

// Has reports whether k is an entry.
func (tr *idxTree) Has(k string) bool {
	p := tr.root
	if p == nil {
		return false
	}
	for h := tr.height; h > 0; h-- {
		n := (*idxInner)(p)
		p = n.kids[n.childFor(k)]
	}
	_, found := (*idxLeaf)(p).search(k)
	return found
}

// insert adds k and reports whether it was absent. k is copied.
func (tr *idxTree) insert(k string) bool {
	if tr.root == nil {
		tr.root = unsafe.Pointer(tr.leafOf([]string{k}, idxLeafMax, 0))
		tr.height, tr.count = 0, 1
		tr.clearFingers()
		return true
	}
	if l, slot := tr.finger(k); l != nil {
		i, found := l.search(k)
		if found {
			return false
		}
		if !l.full(len(k)) {
			*slot = unsafe.Pointer(tr.leafInsert(l, i, k))
			tr.count++
			return true
		}
	}
	sep, right, added := tr.insertAt(&tr.root, tr.height, k, bound{}, bound{})
	if right != nil {
		tr.clearFingers()
		root := &idxInner{iso: tr.iso, seps: tr.leafOf([]string{sep}, idxSlabMax, 0)}
		root.kids = root.kidArr[:2]
		root.kids[0], root.kids[1] = tr.root, right
		tr.root = unsafe.Pointer(root)
		tr.height++
	}
	if added {
		tr.count++
	}
	return added
}

// insertAt inserts k into the subtree at slot (height h, key range lo,
// hi). When the node splits, the new right node and the separator before
// it are returned for the parent to insert.
func (tr *idxTree) insertAt(slot *unsafe.Pointer, h int, k string, lo, hi bound) (sep string, right unsafe.Pointer, added bool) {
	if h == 0 {
		l := (*idxLeaf)(*slot)
		i, found := l.search(k)
		if found {
			return "", nil, false
		}
		if !l.full(len(k)) {
			*slot = unsafe.Pointer(tr.leafInsert(l, i, k))
			tr.setFinger(slot, lo, hi)
			return "", nil, true
		}
		tr.clearFingers()
		var buf [idxLeafMax + 1]string
		keys := buf[:0]
		for j := 0; j < i; j++ {
			keys = append(keys, l.key(j))
		}
		keys = append(keys, k)
		for j := i; j < int(l.n); j++ {
			keys = append(keys, l.key(j))
		}
		// A key after all of l's (appends, runs in key order) leaves l
		// full and starts a leaf with room for a full one of such keys.
		s, room := len(keys)-1, min(len(k)*idxLeafMax, idxLeafData+len(k))
		if i < int(l.n) {
			s, room = splitPoint(keys), 0
		}
		r := tr.leafOf(keys[s:], idxLeafMax, room)
		*slot = unsafe.Pointer(tr.leafOf(keys[:s], idxLeafMax, 0))
		// keys[s] aliases l or k, neither written before the parent
		// copies it into its separators.
		return keys[s], unsafe.Pointer(r), true
	}
	n := tr.mutInner(slot)
	i := n.childFor(k)
	clo, chi := n.bounds(i, lo, hi)
	sep, right, added = tr.insertAt(&n.kids[i], h-1, k, clo, chi)
	if right == nil {
		return "", nil, added
	}
	if len(n.kids) < idxKidsMax {
		n.kids = n.kids[:len(n.kids)+1]
		copy(n.kids[i+2:], n.kids[i+1:])
		n.kids[i+1] = right
		n.seps = tr.leafInsert(n.seps, i, sep) // sep aliases no slab of n
		return "", nil, added
	}
	var sb [idxKidsMax]string
	seps := n.sepList(sb[:0])
	seps = slices.Insert(seps, i, sep) // in place: sb has the room
	// Split n: its children with right after child i, and separators.
	var kb [idxKidsMax + 1]unsafe.Pointer
	kids := append(append(append(kb[:0], n.kids[:i+1]...), right), n.kids[i+1:]...)
	m := (idxKidsMax + 1) / 2
	if i == len(n.kids)-1 {
		m = idxKidsMax // appending: n keeps its children
	}
	*slot = unsafe.Pointer(tr.newInner(kids[:m], seps[:m-1]))
	return seps[m-1], unsafe.Pointer(tr.newInner(kids[m:], seps[m:])), added
}

// splitPoint returns where to split keys (more than one) in two leaves:
// about half the bytes on each side, at most idxLeafMax keys each.
func splitPoint(keys []string) int {
	total := 0
	for _, k := range keys {
		total += len(k)
	}
	s, acc := 0, 0
	for s < len(keys) && 2*acc < total {
		acc += len(keys[s])
		s++
	}
	return min(max(s, 1, len(keys)-idxLeafMax), len(keys)-1, idxLeafMax)
}

// Delete removes k and reports whether it was there. Deleting an absent
// key may copy the nodes on its path.
func (tr *idxTree) Delete(k string) bool {
	if tr.root == nil {
		return false
	}
	if l, slot := tr.finger(k); l != nil {
		i, found := l.search(k)
		if !found {
			return false
		}
		if l.n > idxLeafMax/4 || l.used()-len(k) >= idxLeafData/4 {
			*slot = unsafe.Pointer(tr.leafRemove(l, i))
			tr.count--
			return true
		}
	}
	if !tr.deleteAt(&tr.root, tr.height, k, bound{}, bound{}) {
		return false
	}
	tr.count--
	for tr.height > 0 && len((*idxInner)(tr.root).kids) == 1 {
		tr.root = (*idxInner)(tr.root).kids[0]
		tr.height--
		tr.clearFingers()
	}
	if tr.count == 0 {
		tr.root, tr.height = nil, 0
		tr.clearFingers()
	}
	return true
}

// deleteAt removes k from the subtree at slot (height h, key range lo,
// hi); a node it leaves under a quarter full is rebalanced by its parent.
func (tr *idxTree) deleteAt(slot *unsafe.Pointer, h int, k string, lo, hi bound) bool {
	if h == 0 {
		l := (*idxLeaf)(*slot)
		i, found := l.search(k)
		if !found {
			return false
		}
		*slot = unsafe.Pointer(tr.leafRemove(l, i))
		tr.setFinger(slot, lo, hi) // a rebalance above clears it
		return true
	}
	n := tr.mutInner(slot)
	i := n.childFor(k)
	clo, chi := n.bounds(i, lo, hi)
	if !tr.deleteAt(&n.kids[i], h-1, k, clo, chi) {
		return false
	}
	if h == 1 && (*idxLeaf)(n.kids[i]).under() || h > 1 && len((*idxInner)(n.kids[i]).kids) < idxKidsMax/4 {
		tr.rebalance(n, i, h-1)
	}
	return true
}

// rebalance refills child i (of height h) of the owned node n: it merges
// it with a neighbour, or shares their keys out evenly.
func (tr *idxTree) rebalance(n *idxInner, i, h int) {
	tr.clearFingers()
	if len(n.kids) < 2 {
		return // the rightmost node of an appending split: nothing to even with
	}
	if i == len(n.kids)-1 {
		i--
	}
	if h == 0 {
		a, b := (*idxLeaf)(n.kids[i]), (*idxLeaf)(n.kids[i+1])
		var buf [2 * idxLeafMax]string
		keys := buf[:0]
		for j := 0; j < int(a.n); j++ {
			keys = append(keys, a.key(j))
		}
		for j := 0; j < int(b.n); j++ {
			keys = append(keys, b.key(j))
		}
		if len(keys) <= idxLeafMax && (a.used()+b.used() <= idxLeafData || a.n == 0 || b.n == 0) {
			n.kids[i] = unsafe.Pointer(tr.leafOf(keys, idxLeafMax, 0))
			tr.removeKid(n, i)
			return
		}
		s := splitPoint(keys)
		n.kids[i] = unsafe.Pointer(tr.leafOf(keys[:s], idxLeafMax, 0))
		n.kids[i+1] = unsafe.Pointer(tr.leafOf(keys[s:], idxLeafMax, 0))
		tr.setSep(n, i, keys[s])
		return
	}
	a, b := (*idxInner)(n.kids[i]), (*idxInner)(n.kids[i+1])
	var kb [2 * idxKidsMax]unsafe.Pointer
	var sb [2 * idxKidsMax]string
	kids := append(append(kb[:0], a.kids...), b.kids...)
	seps := b.sepList(append(a.sepList(sb[:0]), n.sep(i)))
	if len(kids) <= idxKidsMax {
		n.kids[i] = unsafe.Pointer(tr.newInner(kids, seps))
		tr.removeKid(n, i)
		return
	}
	m := len(kids) / 2
	n.kids[i] = unsafe.Pointer(tr.newInner(kids[:m], seps[:m-1]))
	n.kids[i+1] = unsafe.Pointer(tr.newInner(kids[m:], seps[m:]))
	tr.setSep(n, i, strings.Clone(seps[m-1])) // it may be n's separator i
}

// removeKid removes child i+1 and separator i of the owned node n (child
// i has taken their keys).
func (tr *idxTree) removeKid(n *idxInner, i int) {
	copy(n.kids[i+1:], n.kids[i+2:])
	n.kids[len(n.kids)-1] = nil
	n.kids = n.kids[:len(n.kids)-1]
	n.seps = tr.leafRemove(n.seps, i)
}

// setSep replaces separator i of the owned node n. sep must not alias
// n's separators.
func (tr *idxTree) setSep(n *idxInner, i int, sep string) {
	n.seps = tr.leafInsert(tr.leafRemove(n.seps, i), i, sep)
}

// Scan calls fn for every entry in key order until fn returns false.
func (tr *idxTree) Scan(fn func(string) bool) { tr.Ascend("", fn) }

// Ascend calls fn for the entries >= from in key order until fn returns
// false.
func (tr *idxTree) Ascend(from string, fn func(string) bool) {
	if tr.root != nil {
		ascendIdx(tr.root, tr.height, from, fn)
	}
}

func ascendIdx(p unsafe.Pointer, h int, from string, fn func(string) bool) bool {
	if h == 0 {
		l := (*idxLeaf)(p)
		i, _ := l.search(from)
		for ; i < int(l.n); i++ {
			if !fn(l.key(i)) {
				return false
			}
		}
		return true
	}
	n := (*idxInner)(p)
	i := n.childFor(from)
	if !ascendIdx(n.kids[i], h-1, from, fn) {
		return false
	}
	for _, c := range n.kids[i+1:] {
		if !ascendIdx(c, h-1, "", fn) {
			return false
		}
	}
	return true
}
