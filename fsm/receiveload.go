package fsm

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// Loading a snapshot while it is received.
//
// A follower that falls too far behind gets the leader's snapshot by
// InstallSnapshot: raft copies the stream into the snapshot store and only
// then calls Restore, which reads the file back and loads it. Receiving
// and loading would take the sum of their times. Instead, a chain sink
// that receives a full snapshot from outside (not one this node persists:
// Persist tells its sink the LSN first) feeds the bytes it writes to a
// snapshot.Load running beside it; when the sink closes, the state that
// load built is parked as a user restore's is (userrestore.go), keyed by
// the stream's first bytes, and Restore installs it after checking that
// the stream it is given starts with them. A load that fails, a stream
// that is cancelled, or a Restore of another stream falls back to loading
// in Restore as before, so the result is the same state either way: it is
// what snapshot.Load builds from the same bytes, verified against the
// footers' row-hash sums.

// receiveHeadLen is how many first bytes key the parked state (the file
// header and the first segment header with its unique dump id).
const receiveHeadLen = 4096

// receiveLoad is one load running while its snapshot arrives.
type receiveLoad struct {
	f    *FSM
	pw   *io.PipeWriter
	head []byte
	dead bool // the load stopped early: no more bytes are fed to it
	done chan struct{}
	st   *engine.State
	err  error
	rows uint64
	took time.Duration
	// first is when the first byte arrived; n counts the bytes.
	first time.Time
	n     int64
}

// startReceiveLoad starts a load for a full snapshot being received, or
// returns nil when none should run (a user restore's state is already
// parked: its bytes are being copied, not received).
func (f *FSM) startReceiveLoad() *receiveLoad {
	f.prep.mu.Lock()
	parked := f.prep.state != nil
	f.prep.mu.Unlock()
	if parked {
		return nil
	}
	pr, pw := io.Pipe()
	rl := &receiveLoad{f: f, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(rl.done)
		start := time.Now()
		res, err := snapshot.Load(context.Background(), pr, nil)
		rl.took = time.Since(start)
		if err == nil {
			rl.st, rl.rows = res.State, res.Rows
		}
		rl.err = err
		// Whatever Load left unread (nothing, unless it failed) must not
		// block the sink's writes.
		pr.CloseWithError(errLoadStopped)
	}()
	return rl
}

var errLoadStopped = errors.New("fsm: the load beside the snapshot receive stopped")

// write feeds p (already written to the file) to the load. A load that
// stopped is left alone; the snapshot is then loaded by Restore.
func (rl *receiveLoad) write(p []byte) {
	if rl.first.IsZero() {
		rl.first = time.Now()
	}
	rl.n += int64(len(p))
	if rl.dead {
		return
	}
	if n := min(len(p), receiveHeadLen-len(rl.head)); n > 0 {
		rl.head = append(rl.head, p[:n]...)
	}
	if _, err := rl.pw.Write(p); err != nil {
		rl.dead = true
	}
}

// finish ends the stream and, if the load built the state, parks it for
// the Restore that raft calls next.
func (rl *receiveLoad) finish() {
	received := time.Since(rl.first)
	_ = rl.pw.Close()
	<-rl.done
	if rl.err != nil || rl.st == nil || rl.dead {
		rl.f.log.Warn("snapshot: loading while receiving failed; Restore loads the file", "err", rl.err)
		return
	}
	rl.f.PrepareUserRestore(rl.head, rl.st)
	rl.f.rstats.received(RestoreStats{LastLSN: rl.st.LSN(), LastRows: rl.rows, LastBytes: rl.n,
		LastLoad: rl.took, LastReceive: received, LastReceived: true})
	rl.f.log.Info("snapshot loaded while received", "lsn", rl.st.LSN(), "rows", rl.rows, "bytes", rl.n,
		"received_in", received.Round(time.Millisecond), "took", rl.took.Round(time.Millisecond))
}

// cancel stops the load; nothing is parked.
func (rl *receiveLoad) cancel() {
	rl.pw.CloseWithError(errLoadStopped)
	<-rl.done
}
