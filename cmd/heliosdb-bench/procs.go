package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// lab owns every process and temporary directory the cluster rows start,
// so that one close (deferred in run) leaves nothing running and nothing
// on disk, whatever failed in between.
type lab struct {
	dir  string
	logf func(string, ...any)

	mu    sync.Mutex // guards procs
	procs []*proc
}

func newLab(logf func(string, ...any)) (*lab, error) {
	dir, err := os.MkdirTemp("", "heliosdb-bench-lab-")
	if err != nil {
		return nil, err
	}
	return &lab{dir: dir, logf: logf}, nil
}

// close kills every process still running (SIGKILL to its process group)
// and removes the lab directory. Safe to call twice.
func (l *lab) close() {
	l.mu.Lock()
	ps := l.procs
	l.procs = nil
	l.mu.Unlock()
	for _, p := range ps {
		p.kill()
	}
	if l.dir != "" {
		_ = os.RemoveAll(l.dir)
		l.dir = ""
	}
}

func (l *lab) path(elem ...string) string { return filepath.Join(append([]string{l.dir}, elem...)...) }

// proc is one child process, in its own process group, with its output in
// a log file under the lab directory.
type proc struct {
	name    string
	bin     string
	args    []string
	logPath string
	cred    *syscall.Credential

	mu   sync.Mutex // guards cmd and done (restart replaces them)
	cmd  *exec.Cmd
	done chan struct{}
}

func (l *lab) newProc(name, bin string, args ...string) *proc {
	p := &proc{name: name, bin: bin, args: args, logPath: l.path(name + ".log")}
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p
}

// start launches the process (again, after kill: same arguments).
func (p *proc) start() error {
	lf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	fmt.Fprintf(lf, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), p.bin, strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	return nil
}

func (p *proc) state() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

func (p *proc) running() bool {
	cmd, done := p.state()
	if cmd == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL to the process group and waits for the exit (a
// process that ignores it is waited for 20s more, then given up on).
func (p *proc) kill() { p.signal(syscall.SIGKILL) }

func (p *proc) signal(sig syscall.Signal) {
	cmd, done := p.state()
	if cmd == nil || !p.running() {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	return lastLines(b)
}

// freePort returns a loopback port that was free a moment ago (another
// engineer's process may take it meanwhile: starts retry on "address
// already in use").
// Ports come from below the ephemeral range (see proctest.PickPort).
func freePort() (int, error) { return proctest.PickPort() }

func freePorts(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// errPortTaken marks a start that failed because a chosen port was taken.
var errPortTaken = errors.New("bench: port taken meanwhile")

// waitFor polls cond every 50ms until it returns nil, the timeout passes
// or ctx ends; exited, when non-nil, fails fast if a process died.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() error, exited func() error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if exited != nil {
			if err := exited(); err != nil {
				return err
			}
		}
		if last = cond(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %v: %v", what, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// repoRoot is the module directory (go env GOMOD), so that the binaries
// build from `go run` at the top and from `go test` in this package.
func repoRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the heliosdb-lite module")
	}
	return filepath.Dir(mod), nil
}

// binaries are the server builds the cluster rows run: the product build,
// and the heliosdb_debug build (identical but for the
// /debug/ae/corrupt endpoint the anti-entropy rows need).
type binaries struct{ normal, debug string }

func (l *lab) build(ctx context.Context) (binaries, error) {
	root, err := repoRoot(ctx)
	if err != nil {
		return binaries{}, err
	}
	b := binaries{normal: l.path("heliosdb-lite"), debug: l.path("heliosdb-lite-debug")}
	for _, a := range [][]string{{"build", "-o", b.normal, "./cmd/heliosdb-lite"},
		{"build", "-tags", "heliosdb_debug", "-o", b.debug, "./cmd/heliosdb-lite"}} {
		cmd := exec.CommandContext(ctx, "go", a...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go %s: %v: %s", strings.Join(a, " "), err, lastLines(out))
		}
	}
	return b, nil
}
