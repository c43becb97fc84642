package antientropy

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// round is one comparison at one cut, run by the leader. It is not safe
// for concurrent use; Runner runs one at a time.
type round struct {
	r       *Runner
	id      uint64
	lsn     uint64
	rebuild bool
	peers   []*peerClient // voters, sorted by id
	self    int           // index of the coordinator in peers
	ok      []bool        // peer answered at the cut
	roots   []*rootsReply
	rep     *Report
}

// nodeVal is what one node holds for a key ("" = absent).
type diffKey struct {
	table string
	key   string
	vals  []string // per peer; "" absent, "-" did not answer
}

func (rd *round) run(ctx context.Context) error {
	cl := rd.r.cluster
	if err := rd.collectRoots(ctx); err != nil {
		return err
	}
	answered := 0
	for _, ok := range rd.ok {
		if ok {
			answered++
		}
	}
	if answered <= len(rd.peers)/2 {
		return fmt.Errorf("%w: %d of %d voters reached the marker in time", ErrNoQuorum, answered, len(rd.peers))
	}
	var diffs []diffKey
	for _, table := range rd.tableNames() {
		d, err := rd.compareTable(ctx, table)
		if err != nil {
			return err
		}
		diffs = append(diffs, d...)
	}
	rd.r.metrics.differences.Add(uint64(len(diffs)))
	if len(diffs) == 0 && len(rd.rep.SchemaDifferences) == 0 {
		if answered == len(rd.peers) {
			rd.unfence(ctx)
		}
		return nil
	}
	return rd.resolve(ctx, cl, diffs)
}

func (rd *round) collectRoots(ctx context.Context) error {
	deadline := time.Now().Add(rd.r.cfg.RoundTimeout)
	rd.ok = make([]bool, len(rd.peers))
	rd.roots = make([]*rootsReply, len(rd.peers))
	q := url.Values{"round": {strconv.FormatUint(rd.id, 10)}, "lsn": {strconv.FormatUint(rd.lsn, 10)}}
	if rd.rebuild {
		q.Set("rebuild", "1")
	}
	errs := parallel(rd.peers, func(i int, p *peerClient) error {
		for {
			var rr rootsReply
			err := p.do(ctx, "GET", pathRoots+"?"+q.Encode(), nil, &rr)
			if err == nil && rr.Status == StatusOK {
				rd.roots[i], rd.ok[i] = &rr, true
				return nil
			}
			if err == nil && rr.Status == StatusGone {
				rd.roots[i] = &rr
				return nil
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				if err == nil {
					rd.roots[i] = &rr
				}
				return err
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	for i, p := range rd.peers {
		nr := NodeReport{ID: p.peer.ID, Status: "error"}
		switch {
		case errs[i] != nil:
			nr.Status = "error: " + errs[i].Error()
		case rd.roots[i] != nil:
			nr.Status, nr.Fenced, nr.Corrupt = rd.roots[i].Status, rd.roots[i].Fenced, rd.roots[i].LeafMismatch
			if rd.ok[i] {
				nr.Roots = map[string]uint64{}
				for _, t := range rd.roots[i].Tables {
					nr.Roots[t.Name] = t.Root
					nr.Rows += t.Rows
				}
			}
		}
		rd.rep.Nodes = append(rd.rep.Nodes, nr)
	}
	return ctx.Err()
}

func (rd *round) tableNames() []string {
	var names []string
	for i, rr := range rd.roots {
		if !rd.ok[i] {
			continue
		}
		for _, t := range rr.Tables {
			if !slices.Contains(names, t.Name) {
				names = append(names, t.Name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// answeredPeers returns the indexes of peers that reached the cut.
func (rd *round) answered() []int {
	var out []int
	for i, ok := range rd.ok {
		if ok {
			out = append(out, i)
		}
	}
	return out
}

// compareTable returns the keys of table whose replicas differ: roots,
// then only differing subtrees, then only differing leaves' buckets, then
// (key, row hash) lists of small differing buckets.
func (rd *round) compareTable(ctx context.Context, table string) ([]diffKey, error) {
	idx := rd.answered()
	var first *tableRoot
	same, schemaSame := true, true
	for _, i := range idx {
		var tr tableRoot // absent table: zero root, zero rows
		for _, t := range rd.roots[i].Tables {
			if t.Name == table {
				tr = t
			}
		}
		if first == nil {
			first = &tr
			continue
		}
		if tr.Root != first.Root || tr.Rows != first.Rows {
			same = false
		}
		if tr.Def != first.Def && tr.Def != 0 && first.Def != 0 {
			schemaSame = false
		}
	}
	if !schemaSame {
		rd.rep.SchemaDifferences = append(rd.rep.SchemaDifferences, table)
		rd.r.log.Error("anti-entropy: table definitions differ between replicas; not repairable row by row", "table", table, "round", rd.id)
		return nil, nil
	}
	if same {
		return nil, nil
	}
	c := cut{Round: rd.id, Rebuild: rd.rebuild, Table: table}
	// Inner levels: parents that differ at level l, children at l+1.
	parents := []int{0}
	for level := 0; level < treeLevels && len(parents) > 0; level++ {
		children := make([][][]uint64, len(rd.peers))
		errs := parallelOn(rd.peers, idx, func(i int, p *peerClient) error {
			var tr treeReply
			err := p.do(ctx, "POST", pathTree, treeRequest{cut: c, Level: level, Parents: parents}, &tr)
			if err == nil && len(tr.Children) != len(parents) {
				err = errors.New("antientropy: malformed tree answer")
			}
			children[i] = tr.Children
			return err
		})
		if err := firstErr(errs); err != nil {
			return nil, err
		}
		var next []int
		for pi, parent := range parents {
			for ch := range Fanout {
				var v uint64
				differ := false
				for n, i := range idx {
					var x uint64
					if cs := children[i][pi]; len(cs) == Fanout {
						x = cs[ch]
					}
					if n == 0 {
						v = x
					} else if x != v {
						differ = true
					}
				}
				if differ {
					next = append(next, parent*Fanout+ch)
				}
			}
		}
		parents = next
	}
	return rd.compareBuckets(ctx, c, idx, parents)
}

// pending is a bucket still to compare, with the rows already known for
// nodes that listed them at an ancestor bucket.
type pending struct {
	b     Bucket
	known map[int][]RowEntry
}

func (rd *round) compareBuckets(ctx context.Context, c cut, idx []int, leaves []int) ([]diffKey, error) {
	var work []pending
	for _, l := range leaves {
		work = append(work, pending{b: Bucket{Leaf: l}, known: map[int][]RowEntry{}})
	}
	var out []diffKey
	for len(work) > 0 {
		// Ask each node about the buckets whose rows it has not listed yet.
		asks := make([][]int, len(rd.peers)) // peer -> indexes into work
		for wi, w := range work {
			for _, i := range idx {
				if _, ok := w.known[i]; !ok {
					asks[i] = append(asks[i], wi)
				}
			}
		}
		replies := make([][]bucketReply, len(rd.peers))
		errs := parallelOn(rd.peers, idx, func(i int, p *peerClient) error {
			if len(asks[i]) == 0 {
				return nil
			}
			q := bucketsRequest{cut: c, MaxRows: rd.r.cfg.MaxRowsPerBucket}
			for _, wi := range asks[i] {
				q.Buckets = append(q.Buckets, work[wi].b)
			}
			var br bucketsReply
			err := p.do(ctx, "POST", pathBuckets, q, &br)
			if err == nil && len(br.Buckets) != len(q.Buckets) {
				err = errors.New("antientropy: malformed buckets answer")
			}
			replies[i] = br.Buckets
			return err
		})
		if err := firstErr(errs); err != nil {
			return nil, err
		}
		// children[wi][peer] = sums/counts when the node answered with children.
		type split struct {
			sums   []uint64
			counts []int
		}
		children := make([]map[int]split, len(work))
		for wi := range work {
			children[wi] = map[int]split{}
		}
		for _, i := range idx {
			for k, wi := range asks[i] {
				br := replies[i][k]
				if br.Sums != nil {
					children[wi][i] = split{br.Sums, br.Counts}
				} else {
					work[wi].known[i] = br.Rows
				}
			}
		}
		var next []pending
		for wi, w := range work {
			if len(children[wi]) == 0 { // every node listed its rows
				out = append(out, rd.diffRows(c.Table, idx, w.known)...)
				continue
			}
			for _, i := range idx {
				if _, ok := children[wi][i]; !ok {
					s, n := splitRows(w.b, w.known[i])
					children[wi][i] = split{s, n}
				}
			}
			for ch := range Fanout {
				differ := false
				ref := children[wi][idx[0]]
				for _, i := range idx[1:] {
					s := children[wi][i]
					if s.sums[ch] != ref.sums[ch] || s.counts[ch] != ref.counts[ch] {
						differ = true
					}
				}
				if !differ {
					continue
				}
				cb := w.b.child(ch)
				nk := map[int][]RowEntry{}
				for i, rows := range w.known {
					nk[i] = filterRows(cb, rows)
				}
				next = append(next, pending{b: cb, known: nk})
			}
		}
		work = next
	}
	return out, nil
}

// diffRows compares the (key, row hash) lists of one bucket.
func (rd *round) diffRows(table string, idx []int, rows map[int][]RowEntry) []diffKey {
	byKey := map[string][]string{}
	var keys []string
	for _, i := range idx {
		for _, r := range rows[i] {
			k := string(r.Key)
			v, ok := byKey[k]
			if !ok {
				v = make([]string, len(rd.peers))
				for j := range v {
					v[j] = "-"
				}
				for _, j := range idx {
					v[j] = ""
				}
				byKey[k] = v
				keys = append(keys, k)
			}
			v[i] = strconv.FormatUint(r.Hash, 16)
		}
	}
	slices.Sort(keys)
	var out []diffKey
	for _, k := range keys {
		v := byKey[k]
		for _, i := range idx[1:] {
			if v[i] != v[idx[0]] {
				out = append(out, diffKey{table: table, key: k, vals: v})
				break
			}
		}
	}
	return out
}

func parallelOn(peers []*peerClient, idx []int, f func(i int, p *peerClient) error) []error {
	sub := make([]*peerClient, len(idx))
	for k, i := range idx {
		sub[k] = peers[i]
	}
	errs := parallel(sub, func(k int, p *peerClient) error { return f(idx[k], p) })
	return errs
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// valueName renders a node's value for reports.
func valueName(v string) string {
	switch v {
	case "":
		return "absent"
	case "-":
		return "no answer"
	}
	return v
}

// repairOp is one key to install as the majority holds it at the cut.
type repairOp struct {
	table, key string
	absent     bool
	source     int // a peer holding the majority image
}

// majority returns the value held by more than half of all voters (not
// only of those that answered) and its holders.
func majority(vals []string, voters int) (string, []int, bool) {
	count := map[string][]int{}
	for i, v := range vals {
		if v != "-" {
			count[v] = append(count[v], i)
		}
	}
	for v, holders := range count {
		if len(holders) > voters/2 {
			return v, holders, true
		}
	}
	return "", nil, false
}
