// Package proctest starts real heliosdb-lite server processes for tests:
// it builds the binary once per test binary, picks free loopback ports,
// waits until a node accepts PostgreSQL connections, and kills every
// process it started when the test ends. Logs go to a file per node and
// are printed through t.Log when the test fails.
package proctest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the path of a heliosdb-lite binary built from this
// checkout (once per test process). HELIOSDB_BIN overrides it.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("HELIOSDB_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "heliosdb-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "heliosdb-lite")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/heliosdb-lite")
		cmd.Dir = repoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// RepoRoot is the checkout's top directory.
func RepoRoot() string { return repoRoot() }

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
//
// Ports come from 20000-32767, below Linux's ephemeral range (32768 and
// up): a port that ":0" hands out is an ephemeral one, which the outgoing
// connections of other tests running in parallel also draw from, so
// between "picked" and "bound by the server" one of them could take it.
// Each candidate is checked by binding it (and its UDP twin, for gossip).
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := PickPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var pickMu sync.Mutex
var picked = map[int]bool{}

// PickPort is FreePort without a testing.TB. A port is never handed out
// twice by one process.
func PickPort() (int, error) {
	pickMu.Lock()
	defer pickMu.Unlock()
	for i := 0; i < 1000; i++ {
		p := 20000 + rand.IntN(12768)
		if picked[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		picked[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("proctest: no free port found in 20000-32767")
}

// Node is one server process.
type Node struct {
	t       testing.TB
	Name    string
	Args    []string // arguments after "start"
	Port    int
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Addr is the PostgreSQL address.
func (n *Node) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Port)) }

// DSN is a connection string for pgx/psql.
func (n *Node) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", n.Port)
}

// Start runs `heliosdb-lite start --port P args...` and waits until it
// accepts connections. The process is killed at the end of the test.
func Start(t testing.TB, name string, args ...string) *Node {
	t.Helper()
	n := &Node{t: t, Name: name, Args: args, Port: FreePort(t)}
	n.LogPath = filepath.Join(t.TempDir(), name+".log")
	n.launch()
	t.Cleanup(func() {
		n.Kill()
		if t.Failed() {
			if b, err := os.ReadFile(n.LogPath); err == nil {
				t.Logf("--- log of %s ---\n%s", name, tail(string(b), 8000))
			}
		}
	})
	n.WaitReady(30 * time.Second)
	return n
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func (n *Node) launch() {
	n.t.Helper()
	args := append([]string{"start", "--port", strconv.Itoa(n.Port)}, n.Args...)
	lf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	n.cmd = exec.Command(Binary(n.t), args...)
	n.cmd.Stdout, n.cmd.Stderr = lf, lf
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	lf.Close()
	n.done = make(chan struct{})
	cmd, done := n.cmd, n.done
	go func() { _ = cmd.Wait(); close(done) }()
}

// WaitReady waits until a SQL query succeeds on the node.
func (n *Node) WaitReady(timeout time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			b, _ := os.ReadFile(n.LogPath)
			n.t.Fatalf("%s exited during startup:\n%s", n.Name, tail(string(b), 4000))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, n.DSN())
		if err == nil {
			_, err = c.Exec(ctx, "select 1")
			c.Close(ctx)
		}
		cancel()
		if err == nil {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("%s not ready after %v: %v", n.Name, timeout, last)
}

// Kill sends SIGKILL and waits for the process to exit.
func (n *Node) Kill() { n.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits for an orderly exit.
func (n *Node) Stop() { n.signal(syscall.SIGTERM) }

// Pause and Resume send SIGSTOP and SIGCONT.
func (n *Node) Pause()  { _ = n.cmd.Process.Signal(syscall.SIGSTOP) }
func (n *Node) Resume() { _ = n.cmd.Process.Signal(syscall.SIGCONT) }

func (n *Node) signal(sig syscall.Signal) {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGCONT)
	_ = n.cmd.Process.Signal(sig)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// Restart starts the process again with the same port and arguments.
func (n *Node) Restart() {
	n.t.Helper()
	n.launch()
	n.WaitReady(30 * time.Second)
}

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Log returns the node's log so far.
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.LogPath)
	return string(b)
}

// Connect opens a pgx connection closed at the end of the test.
func (n *Node) Connect(ctx context.Context) *pgx.Conn {
	n.t.Helper()
	c, err := pgx.Connect(ctx, n.DSN())
	if err != nil {
		n.t.Fatalf("connect to %s: %v", n.Name, err)
	}
	n.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// Run runs the heliosdb-lite CLI with args and returns its stdout, stderr
// and exit code.
func Run(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return so.String(), se.String(), code
}
