package replication

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// waitingTransport holds an AppendEntries to a follower whose port
// refuses connections until the follower listens again (then it goes
// through), or until replicating to it is no longer wanted; heartbeats
// fail at once as before.
func TestWaitingTransportHoldsRefusedAppends(t *testing.T) {
	client, err := raft.NewTCPTransport("127.0.0.1:0", nil, 2, 5*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var wanted atomic.Bool
	wanted.Store(true)
	stop := make(chan struct{})
	defer close(stop)
	wt := &waitingTransport{NetworkTransport: client, wanted: func(raft.ServerID) bool { return wanted.Load() }, stop: stop, poll: 5 * time.Millisecond}
	target := freeAddr(t) // nothing listens there yet
	appendReq := &raft.AppendEntriesRequest{Term: 2, PrevLogEntry: 10, PrevLogTerm: 2, LeaderCommitIndex: 10}

	// A heartbeat is not held.
	if err := wt.AppendEntries("f", raft.ServerAddress(target), &raft.AppendEntriesRequest{Term: 2}, &raft.AppendEntriesResponse{}); err == nil {
		t.Fatal("a heartbeat to a closed port succeeded")
	}

	// An append is held until the follower listens, then answered.
	done := make(chan error, 1)
	var resp raft.AppendEntriesResponse
	go func() { done <- wt.AppendEntries("f", raft.ServerAddress(target), appendReq, &resp) }()
	select {
	case err := <-done:
		t.Fatalf("the append to a refusing follower returned at once: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	ln, err := net.Listen("tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	follower := raft.NewNetworkTransport(&tcpLayer{ln}, 2, 5*time.Second, io.Discard)
	defer follower.Close()
	go func() {
		for rpc := range follower.Consumer() {
			rpc.Respond(&raft.AppendEntriesResponse{Term: 2, LastLog: 10, Success: true}, nil)
		}
	}()
	select {
	case err := <-done:
		if err != nil || !resp.Success {
			t.Fatalf("held append: %v, %+v", err, resp)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the held append did not go through once the follower listened")
	}

	// No longer wanted (leadership lost, follower removed): returns.
	follower.Close()
	wanted.Store(false)
	target2 := freeAddr(t)
	if err := wt.AppendEntries("g", raft.ServerAddress(target2), appendReq, &resp); err == nil {
		t.Fatal("an append to a refusing follower nobody wants succeeded")
	}
}

// tcpLayer is raft.StreamLayer over a listener.
type tcpLayer struct{ net.Listener }

func (l *tcpLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}
