package engine

// treeBuilder assembles a cowTree bottom-up from items given in strictly
// increasing key order (the rows of a full restore, the sorted entries of
// an index): leaves are filled to the node maximum in place, one item
// between two leaves is kept aside as their separator, and the inner
// levels are built once at the end from the leaves and separators. This
// costs no search, no root-to-leaf walk and no growing of item arrays per
// item, where cowTree.Load walks the rightmost path twice per item.
//
// The result has the shape a sequential cowTree.Load leaves (full nodes,
// the last ones possibly fuller or emptier), so later writes see an
// ordinary tree. It depends on cowTree's node layout (iso, items,
// children; root, count, max): a change there must be mirrored here
// (TestTreeBuilder checks the result against trees built by Set).
type treeBuilder[T any] struct {
	max    int
	leaves []*cowNode[T] // completed leaves, each full
	seps   []T           // seps[i] goes between leaves[i] and leaves[i+1]
	cur    []T           // the open leaf (capacity max)
	n      int
}

func newTreeBuilder[T any](maxItems int) *treeBuilder[T] {
	return &treeBuilder[T]{max: maxItems}
}

// add appends item, whose key sorts after every item added before.
func (b *treeBuilder[T]) add(item T) {
	b.n++
	if len(b.cur) == b.max {
		// The open leaf is complete: item separates it from the next.
		b.leaves = append(b.leaves, &cowNode[T]{items: b.cur})
		b.seps = append(b.seps, item)
		b.cur = nil
		return
	}
	if b.cur == nil {
		b.cur = make([]T, 0, b.max)
	}
	b.cur = append(b.cur, item)
}

// build makes tr (which must be empty) hold the items added. The builder
// must not be used afterwards.
func (b *treeBuilder[T]) build(tr *cowTree[T]) {
	if b.n == 0 {
		return
	}
	if len(b.cur) == 0 {
		// The last item went aside as a separator: it becomes the last
		// leaf, and the last item of the leaf before takes its place.
		s := b.seps[len(b.seps)-1]
		prev := b.leaves[len(b.leaves)-1]
		b.seps[len(b.seps)-1] = prev.items[len(prev.items)-1]
		var zero T
		prev.items[len(prev.items)-1] = zero
		prev.items = prev.items[:len(prev.items)-1]
		b.cur = append(make([]T, 0, 4), s)
	} else if len(b.cur) < b.max {
		// Size the last leaf to what it holds, as cowTree does.
		b.cur = append(make([]T, 0, max(4, len(b.cur))), b.cur...)
	}
	nodes := append(b.leaves, &cowNode[T]{items: b.cur})
	seps := b.seps
	b.leaves, b.seps, b.cur = nil, nil, nil
	for _, n := range nodes {
		n.iso = tr.iso
	}
	// Inner levels: m nodes of about equal size (at most max+1 children
	// each); the separator between two of them goes one level up.
	for len(nodes) > 1 {
		m := (len(nodes) + tr.max) / (tr.max + 1)
		up := make([]*cowNode[T], 0, m)
		upSeps := make([]T, 0, m-1)
		next := 0 // next node of this level
		for i := 0; i < m; i++ {
			c := (len(nodes) - next) / (m - i) // children of this parent
			p := &cowNode[T]{iso: tr.iso, children: make([]*cowNode[T], c), items: make([]T, c-1)}
			copy(p.children, nodes[next:next+c])
			copy(p.items, seps[next:next+c-1])
			next += c
			up = append(up, p)
			if i < m-1 {
				upSeps = append(upSeps, seps[next-1])
			}
		}
		nodes, seps = up, upSeps
	}
	tr.root = nodes[0]
	tr.count = b.n
}
