package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// fakePG is a PostgreSQL server that answers every simple query with one
// text row, answer(query); auth, when set, refuses every login with it.
func fakePG(t *testing.T, answer func(q string) []string, auth *pgproto3.ErrorResponse) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				be := pgproto3.NewBackend(c, c)
				if _, err := be.ReceiveStartupMessage(); err != nil {
					return
				}
				if auth != nil {
					be.Send(auth)
					_ = be.Flush()
					return
				}
				be.Send(&pgproto3.AuthenticationOk{})
				be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
				_ = be.Flush()
				for {
					m, err := be.Receive()
					if err != nil {
						return
					}
					q, ok := m.(*pgproto3.Query)
					if !ok {
						return
					}
					row := answer(q.String)
					var fds []pgproto3.FieldDescription
					var vals [][]byte
					for i, v := range row {
						fds = append(fds, pgproto3.FieldDescription{Name: []byte(fmt.Sprint("c", i)), DataTypeOID: 25})
						vals = append(vals, []byte(v))
					}
					be.Send(&pgproto3.RowDescription{Fields: fds})
					if row != nil {
						be.Send(&pgproto3.DataRow{Values: vals})
					}
					be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
					be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
					_ = be.Flush()
				}
			}(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// member answers as cluster node id whose members view shows leader at
// leaderAddr and lists the ids in members.
func member(id, leader, leaderAddr string, members ...string) func(string) []string {
	return func(q string) []string {
		switch {
		case strings.HasPrefix(q, "SHOW heliosdb.node_id"):
			return []string{id}
		case strings.Contains(q, "role = 'leader'"):
			return []string{leader, leaderAddr}
		case strings.Contains(q, "WHERE node_id = "):
			for _, m := range members {
				if strings.Contains(q, "'"+m+"'") {
					return []string{m}
				}
			}
		}
		return nil
	}
}

// throughLeaderOf runs throughLeader from a follower on port and returns
// the node id of the connection it picked, the flags it left and what it
// printed on standard error.
func throughLeaderOf(t *testing.T, port int) (picked string, cf connFlags, stderr string) {
	t.Helper()
	cf = connFlags{host: "127.0.0.1", port: port, user: "u"}
	ctx := context.Background()
	conn, err := cf.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	old := os.Stderr
	os.Stderr = w
	got := throughLeader(ctx, conn, &cf)
	os.Stderr = old
	w.Close()
	b, _ := io.ReadAll(r)
	defer got.Close(ctx)
	id, _ := nodeID(ctx, got)
	return id, cf, string(b)
}

// The restore CLI switches from a follower to the leader only when the
// server at the leader's advertised address says it is that leader and
// knows the follower; otherwise it stays, and says why.
func TestThroughLeader(t *testing.T) {
	leaderPort := fakePG(t, member("n1", "n1", "", "n1", "n2"), nil)
	follower := fakePG(t, member("n2", "n1", fmt.Sprintf("127.0.0.1:%d", leaderPort), "n1", "n2"), nil)
	if id, cf, msg := throughLeaderOf(t, follower); id != "n1" || cf.port != leaderPort || !strings.Contains(msg, "n2 is a follower: restoring through the leader n1") {
		t.Fatalf("reachable leader: picked %q (port %d), stderr %q", id, cf.port, msg)
	}
	// Advertised as 0.0.0.0:port: the follower's host, on that port.
	follower = fakePG(t, member("n2", "n1", fmt.Sprintf("0.0.0.0:%d", leaderPort), "n1", "n2"), nil)
	if id, _, msg := throughLeaderOf(t, follower); id != "n1" || !strings.Contains(msg, fmt.Sprintf("n1 at 127.0.0.1:%d", leaderPort)) {
		t.Fatalf("unspecified advertised host: picked %q, stderr %q", id, msg)
	}
	// Some other server answers at the address: stay on the follower.
	other := fakePG(t, member("node1", "node1", "", "node1"), nil)
	follower = fakePG(t, member("n2", "n1", fmt.Sprintf("127.0.0.1:%d", other), "n1", "n2"), nil)
	if id, cf, msg := throughLeaderOf(t, follower); id != "n2" || cf.port != follower || !strings.Contains(msg, `reaches "node1", not the leader n1`) {
		t.Fatalf("wrong server at the address: picked %q (port %d), stderr %q", id, cf.port, msg)
	}
	// A server named like the leader that does not know this follower (a
	// node of another cluster with the default ids): stay.
	stranger := fakePG(t, member("n1", "n1", "", "n1", "n3"), nil)
	follower = fakePG(t, member("n2", "n1", fmt.Sprintf("127.0.0.1:%d", stranger), "n1", "n2"), nil)
	if id, _, msg := throughLeaderOf(t, follower); id != "n2" || !strings.Contains(msg, "not the leader n1 of this cluster") {
		t.Fatalf("leader of another cluster: picked %q, stderr %q", id, msg)
	}
	// The leader refuses the credentials: stay, and say how to fix it.
	refusing := fakePG(t, nil, &pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "u"`})
	follower = fakePG(t, member("n2", "n1", fmt.Sprintf("127.0.0.1:%d", refusing), "n1", "n2"), nil)
	if id, _, msg := throughLeaderOf(t, follower); id != "n2" || !strings.Contains(msg, "refused the connection (password authentication failed") || strings.Contains(msg, "is it running") {
		t.Fatalf("refused credentials: picked %q, stderr %q", id, msg)
	}
	// Nobody listens there: stay.
	follower = fakePG(t, member("n2", "n1", "127.0.0.1:1", "n1", "n2"), nil)
	if id, _, msg := throughLeaderOf(t, follower); id != "n2" || !strings.Contains(msg, "cannot be reached from here") || strings.Contains(msg, "<nil>") {
		t.Fatalf("unreachable leader: picked %q, stderr %q", id, msg)
	}
}
