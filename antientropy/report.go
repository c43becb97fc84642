package antientropy

import (
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Report describes one round, as served by the admin API and printed by
// `heliosdb-lite antientropy`.
type Report struct {
	Round       uint64       `json:"round"`
	LSN         uint64       `json:"lsn"` // the marker's log index: the cut compared
	Coordinator string       `json:"coordinator"`
	Rebuild     bool         `json:"rebuild"` // hashes recomputed from the stored rows
	Started     time.Time    `json:"started"`
	Duration    Duration     `json:"duration"`
	Nodes       []NodeReport `json:"nodes"`
	// Differences lists every key whose replicas disagreed, with the
	// action taken.
	Differences []Difference `json:"differences"`
	// SchemaDifferences names tables whose definitions differ between
	// replicas (not repairable row by row; an alarm).
	SchemaDifferences []string `json:"schema_differences,omitempty"`
	// Repaired is the number of row images proposed through the log.
	Repaired int `json:"repaired"`
	// RepairEntries is the number of repair log entries proposed.
	RepairEntries int `json:"repair_entries"`
	// TransferredTo: the coordinator held a minority image and handed
	// leadership to this node, which repairs in its own round.
	TransferredTo string `json:"transferred_to,omitempty"`
	// Reinstalled names the follower that differed from the majority in at
	// least ReinstallThreshold keys and was asked to reinstall itself
	// (leave raft, drop its raft state, rejoin empty and receive a
	// snapshot) instead of having its rows repaired through the log.
	Reinstalled []string `json:"reinstalled,omitempty"`
	Fenced      []string `json:"fenced,omitempty"`
	Unfenced    []string `json:"unfenced,omitempty"`
	Error       string   `json:"error,omitempty"`
	// Truncated: more differences were found than are listed.
	Truncated bool `json:"truncated,omitempty"`
}

// NodeReport is one voter's part of a round.
type NodeReport struct {
	ID      string            `json:"id"`
	Status  string            `json:"status"` // ok, not_yet, gone, error: ...
	Roots   map[string]uint64 `json:"roots,omitempty"`
	Rows    int               `json:"rows"`
	Bytes   int64             `json:"bytes"` // request + response bodies exchanged with it
	Calls   int64             `json:"calls"`
	Fenced  bool              `json:"fenced,omitempty"`
	Corrupt []string          `json:"corrupt_tables,omitempty"` // leaves disagree with own rows
}

// Difference is one key on which replicas disagree at the cut.
type Difference struct {
	Table string `json:"table"`
	// Key is the encoded primary key in hex.
	Key string `json:"key"`
	// Values maps node id to its row hash (hex) or "absent".
	Values   map[string]string `json:"values"`
	Majority string            `json:"majority,omitempty"` // "" when there is none
	Action   string            `json:"action"`
}

// Duration marshals as a Go duration string.
type Duration time.Duration

// MarshalText formats d.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses d.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// DiffKeys returns the differing keys as "table/hexkey", sorted.
func (r *Report) DiffKeys() []string {
	out := make([]string, 0, len(r.Differences))
	for _, d := range r.Differences {
		out = append(out, d.Table+"/"+d.Key)
	}
	sort.Strings(out)
	return out
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "round %d at LSN %d (coordinator %s, %s, rebuild=%v)\n", r.Round, r.LSN, r.Coordinator,
		time.Duration(r.Duration).Round(time.Millisecond), r.Rebuild)
	if r.Error != "" {
		fmt.Fprintf(w, "error: %s\n", r.Error)
	}
	for _, n := range r.Nodes {
		tables := make([]string, 0, len(n.Roots))
		for t := range n.Roots {
			tables = append(tables, t)
		}
		sort.Strings(tables)
		var roots []string
		for _, t := range tables {
			roots = append(roots, fmt.Sprintf("%s=%016x", t, n.Roots[t]))
		}
		fenced := ""
		if n.Fenced {
			fenced = " FENCED"
		}
		fmt.Fprintf(w, "  %-10s %-8s rows=%-9d bytes=%-8d%s %s\n", n.ID, n.Status, n.Rows, n.Bytes, fenced, strings.Join(roots, " "))
	}
	fmt.Fprintf(w, "differences: %d, repaired: %d (%d log entries)\n", len(r.Differences), r.Repaired, r.RepairEntries)
	for _, d := range r.Differences {
		ids := make([]string, 0, len(d.Values))
		for id := range d.Values {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var vs []string
		for _, id := range ids {
			vs = append(vs, id+"="+d.Values[id])
		}
		fmt.Fprintf(w, "  %s key %s: %s -> %s\n", d.Table, d.Key, strings.Join(vs, " "), d.Action)
	}
	for _, t := range r.SchemaDifferences {
		fmt.Fprintf(w, "  schema of %s differs between replicas (not repaired)\n", t)
	}
	if r.TransferredTo != "" {
		fmt.Fprintf(w, "leadership transferred to %s (this node held the minority image)\n", r.TransferredTo)
	}
	for _, id := range r.Reinstalled {
		fmt.Fprintf(w, "reinstalled: %s (left raft, restarts empty and receives a snapshot; fenced until a round finds it equal)\n", id)
	}
	if len(r.Fenced) > 0 {
		fmt.Fprintf(w, "fenced: %s\n", strings.Join(r.Fenced, ", "))
	}
	if len(r.Unfenced) > 0 {
		fmt.Fprintf(w, "fence lifted: %s\n", strings.Join(r.Unfenced, ", "))
	}
}

func hexKey(k []byte) string { return hex.EncodeToString(k) }
