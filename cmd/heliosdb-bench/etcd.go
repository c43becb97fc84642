package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

const etcdBin = "/usr/bin/etcd"

// etcdMember is one etcd process; clients use its HTTP JSON gateway
// (POST /v3/kv/put), so the etcd Go client is not needed.
type etcdMember struct {
	*proc
	name         string
	client, peer int
}

func (m *etcdMember) url() string { return fmt.Sprintf("http://127.0.0.1:%d", m.client) }

// etcdCluster is a 3-member etcd cluster on loopback with its data dirs in
// the lab directory, at etcd's default timeouts (heartbeat 100ms,
// election 1000ms).
type etcdCluster struct {
	members []*etcdMember
	http    *http.Client
}

func etcdVersion() string {
	out, err := exec.Command(etcdBin, "--version").Output()
	if err != nil {
		return "not installed"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.TrimPrefix(first, "etcd Version:"))
}

func (l *lab) startEtcd(ctx context.Context) (*etcdCluster, error) {
	for attempt := 0; ; attempt++ {
		c, err := l.tryEtcd(ctx, attempt)
		if err == nil {
			return c, nil
		}
		if c != nil {
			c.stop()
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			return nil, err
		}
	}
}

func (l *lab) tryEtcd(ctx context.Context, attempt int) (*etcdCluster, error) {
	c := &etcdCluster{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 1024}}}
	var initial []string
	for i := 1; i <= 3; i++ {
		ps, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		m := &etcdMember{name: fmt.Sprintf("e%d", i), client: ps[0], peer: ps[1]}
		c.members = append(c.members, m)
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", m.name, m.peer))
	}
	for _, m := range c.members {
		peer := fmt.Sprintf("http://127.0.0.1:%d", m.peer)
		m.proc = l.newProc(fmt.Sprintf("etcd-%s-%d", m.name, attempt), etcdBin, "--name", m.name,
			"--data-dir", l.path(fmt.Sprintf("etcd-%s-%d", m.name, attempt)),
			"--listen-client-urls", m.url(), "--advertise-client-urls", m.url(),
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", "heliosdb-bench",
			"--initial-cluster-state", "new", "--logger", "zap", "--log-level", "warn")
		if err := m.start(); err != nil {
			return c, err
		}
	}
	return c, c.waitReady(ctx, 60*time.Second)
}

func (c *etcdCluster) stop() {
	for _, m := range c.members {
		m.kill()
	}
}

func (c *etcdCluster) exited() error {
	for _, m := range c.members {
		if !m.running() {
			log := m.logTail()
			if strings.Contains(log, "address already in use") {
				return fmt.Errorf("etcd %s: %w", m.name, errPortTaken)
			}
			return fmt.Errorf("etcd %s exited: %s", m.name, log)
		}
	}
	return nil
}

func (c *etcdCluster) post(ctx context.Context, m *etcdMember, path string, body, v any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url()+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return doJSON(c.http, req, v)
}

type etcdStatus struct {
	Header struct {
		MemberID string `json:"member_id"`
	} `json:"header"`
	Leader string `json:"leader"`
}

// leader waits until the running members agree on a leader and returns it.
func (c *etcdCluster) leader(ctx context.Context, timeout time.Duration) (*etcdMember, error) {
	var leader *etcdMember
	err := waitFor(ctx, timeout, "an etcd leader", func() error {
		leader = nil
		seen := map[string]bool{}
		for _, m := range c.members {
			if !m.running() {
				continue
			}
			var st etcdStatus
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := c.post(sctx, m, "/v3/maintenance/status", struct{}{}, &st)
			cancel()
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			seen[st.Leader] = true
			if st.Leader != "" && st.Leader != "0" && st.Leader == st.Header.MemberID {
				leader = m
			}
		}
		if leader == nil || len(seen) != 1 {
			return fmt.Errorf("leaders seen: %v", seen)
		}
		return nil
	}, nil)
	return leader, err
}

func (c *etcdCluster) waitReady(ctx context.Context, timeout time.Duration) error {
	return waitFor(ctx, timeout, "etcd cluster ready", func() error {
		_, err := c.leader(ctx, time.Second)
		return err
	}, c.exited)
}

// put writes one key through member m's JSON gateway.
func (c *etcdCluster) put(ctx context.Context, m *etcdMember, key, value string) error {
	return c.post(ctx, m, "/v3/kv/put", map[string]string{
		"key":   base64.StdEncoding.EncodeToString([]byte(key)),
		"value": base64.StdEncoding.EncodeToString([]byte(value)),
	}, nil)
}

// putClient is one load client writing fresh keys through m.
func (c *etcdCluster) putClient(m *etcdMember, prefix string) client {
	return client{write: func(ctx context.Context, seq int64) error {
		return c.put(ctx, m, prefix+strconv.FormatInt(seq, 36), benchPayload)
	}, close: func() {}}
}

// benchPayload is the value of every replicated write (ours and etcd's).
const benchPayload = "payload-0123456"
