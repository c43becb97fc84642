package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// hnode is one heliosdb-lite server process.
type hnode struct {
	*proc
	id                        string
	pg, raft, gossip, httpPrt int
	dataDir, backupDir        string
}

func (n *hnode) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=3", n.pg)
}

func (n *hnode) httpAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.httpPrt) }

var adminClient = &http.Client{Timeout: 5 * time.Second}

// nodeStatus is the part of the admin API's /status the rows read.
type nodeStatus struct {
	Role        string `json:"role"`
	LeaderID    string `json:"leader_id"`
	RaftApplied uint64 `json:"raft_applied_index"`
	CommitIndex uint64 `json:"commit_index"`
	Rows        int64  `json:"rows"`
}

func (n *hnode) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.httpAddr()+path, nil)
	if err != nil {
		return err
	}
	return doJSON(adminClient, req, v)
}

func (n *hnode) postJSON(ctx context.Context, client *http.Client, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+n.httpAddr()+path, nil)
	if err != nil {
		return err
	}
	return doJSON(client, req, v)
}

func doJSON(c *http.Client, req *http.Request, v any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(b)))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(b, v)
}

// metrics reads n's /metrics: the value of each sample without labels.
func (n *hnode) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.httpAddr()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	return out, nil
}

func (n *hnode) status(ctx context.Context) (nodeStatus, error) {
	var st nodeStatus
	err := n.getJSON(ctx, "/status", &st)
	return st, err
}

// exited reports a process that died (with the reason from its log).
func (n *hnode) exited() error {
	if n.running() {
		return nil
	}
	log := n.logTail()
	if strings.Contains(log, "address already in use") {
		return fmt.Errorf("%s: %w", n.id, errPortTaken)
	}
	return fmt.Errorf("%s exited: %s", n.id, log)
}

// sqlReady waits until a query succeeds on the node.
func (n *hnode) sqlReady(ctx context.Context, timeout time.Duration) error {
	return waitFor(ctx, timeout, n.id+" accepts SQL", func() error {
		c, err := pgx.Connect(ctx, n.dsn())
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(ctx, "select 1")
		return err
	}, n.exited)
}

func (n *hnode) exec(ctx context.Context, sql string, args ...any) error {
	c, err := pgx.Connect(ctx, n.dsn())
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql, args...)
	return err
}

// startSingle starts one node with a data dir (log and snapshots on disk),
// retrying on a port taken meanwhile.
func (l *lab) startSingle(ctx context.Context, bin, name string) (*hnode, error) {
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		n := &hnode{id: name, pg: port, dataDir: l.path(name + "-data")}
		n.proc = l.newProc(name, bin, "start", "--node-id", name, "--listen", "127.0.0.1", "--port", strconv.Itoa(port),
			"--data-dir", n.dataDir, "--log-level", "warn")
		if err := n.start(); err != nil {
			return nil, err
		}
		err = n.sqlReady(ctx, 60*time.Second)
		if err == nil {
			return n, nil
		}
		n.kill()
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			return nil, err
		}
		_ = os.RemoveAll(n.dataDir)
	}
}

// hcluster is three heliosdb-lite processes on loopback, formed with
// --join and --bootstrap-expect 3 as an operator would.
type hcluster struct {
	nodes []*hnode
}

// startCluster starts a 3-node cluster named name with the given extra
// config file content and waits until every node is ready (leader
// elected, linearizable reads possible). A port taken meanwhile restarts
// the whole formation on new ports.
func (l *lab) startCluster(ctx context.Context, bin, name, configTOML string) (*hcluster, error) {
	cfgPath := l.path(name + ".toml")
	if err := os.WriteFile(cfgPath, []byte(configTOML), 0o644); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		c, err := l.tryCluster(ctx, bin, name, cfgPath)
		if err == nil {
			return c, nil
		}
		if c != nil {
			for _, n := range c.nodes {
				n.kill()
				_ = os.RemoveAll(n.dataDir)
			}
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			return nil, err
		}
		l.logf("%s: a port was taken meanwhile; starting again on new ports", name)
	}
}

func (l *lab) tryCluster(ctx context.Context, bin, name, cfgPath string) (*hcluster, error) {
	c := &hcluster{}
	var gossip []string
	for i := 1; i <= 3; i++ {
		ps, err := freePorts(4)
		if err != nil {
			return nil, err
		}
		id := fmt.Sprintf("%s-n%d", name, i)
		c.nodes = append(c.nodes, &hnode{id: id, pg: ps[0], raft: ps[1], gossip: ps[2], httpPrt: ps[3],
			dataDir: l.path(id + "-data"), backupDir: l.path(id + "-backups")})
		gossip = append(gossip, fmt.Sprintf("127.0.0.1:%d", ps[2]))
	}
	for _, n := range c.nodes {
		n.proc = l.newProc(n.id, bin, "start", "--config", cfgPath, "--node-id", n.id,
			"--listen", "127.0.0.1", "--port", strconv.Itoa(n.pg),
			"--raft-addr", fmt.Sprintf("127.0.0.1:%d", n.raft),
			"--gossip-addr", fmt.Sprintf("127.0.0.1:%d", n.gossip),
			"--http-addr", n.httpAddr(),
			"--join", strings.Join(gossip, ","), "--bootstrap-expect", "3",
			"--data-dir", n.dataDir, "--backup-dir", n.backupDir, "--log-level", "warn")
		if err := n.start(); err != nil {
			return c, err
		}
	}
	return c, c.waitReady(ctx, 90*time.Second)
}

func (c *hcluster) exited() error {
	for _, n := range c.nodes {
		if err := n.exited(); err != nil {
			return err
		}
	}
	return nil
}

func (c *hcluster) running() []*hnode {
	var out []*hnode
	for _, n := range c.nodes {
		if n.running() {
			out = append(out, n)
		}
	}
	return out
}

// leader waits until the running nodes agree on a leader among them.
func (c *hcluster) leader(ctx context.Context, timeout time.Duration) (*hnode, error) {
	var leader *hnode
	err := waitFor(ctx, timeout, "an agreed leader", func() error {
		leader = nil
		ids := map[string]bool{}
		for _, n := range c.running() {
			st, err := n.status(ctx)
			if err != nil {
				return err
			}
			ids[st.LeaderID] = true
			if st.Role == "Leader" {
				leader = n
			}
		}
		if leader == nil || len(ids) != 1 {
			return fmt.Errorf("leaders seen: %v", ids)
		}
		return nil
	}, nil)
	return leader, err
}

// waitReady waits for a leader and for /ready (caught up, linearizable
// reads possible) on every node, all of which must be running.
func (c *hcluster) waitReady(ctx context.Context, timeout time.Duration) error {
	return waitFor(ctx, timeout, "every node ready", func() error {
		for _, n := range c.nodes {
			if err := n.getJSON(ctx, "/ready", nil); err != nil {
				return fmt.Errorf("%s: %w", n.id, err)
			}
		}
		_, err := c.leader(ctx, time.Second)
		return err
	}, c.exited)
}

// others are the running nodes except n.
func (c *hcluster) others(n *hnode) []*hnode {
	var out []*hnode
	for _, o := range c.running() {
		if o != n {
			out = append(out, o)
		}
	}
	return out
}

// followerOf returns a running node that is not the leader.
func (c *hcluster) follower(ctx context.Context) (leader, follower *hnode, err error) {
	leader, err = c.leader(ctx, 30*time.Second)
	if err != nil {
		return nil, nil, err
	}
	return leader, c.others(leader)[0], nil
}

func (c *hcluster) stop() {
	for _, n := range c.nodes {
		n.kill()
	}
}
