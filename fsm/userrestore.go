package fsm

import (
	"bytes"
	"io"
	"sync"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// A user restore (raft.Restore, replication.Node.UserRestore) hands the FSM
// a .heliodump that the node serving the restore has already loaded and
// verified while receiving it. Loading it a second time in Restore would
// double the cost of the restore on that node, so the node parks the state
// it built here (PrepareUserRestore) and Restore installs it instead of
// decoding the stream, after checking that the stream starts with the same
// bytes. Every other node (InstallSnapshot) and every later Restore loads
// the stream as usual; the prepared state is identical to what that load
// builds because the node built it with snapshot.Load from the same bytes.

// prepared is the state parked for the next Restore.
type prepared struct {
	mu     sync.Mutex
	prefix []byte
	state  *engine.State
}

// PrepareUserRestore parks st as the result of restoring a stream that
// starts with prefix (at least the file header and the first segment
// header: the dump id makes it unique). The returned func forgets it; call
// it once the user restore returned, whether or not Restore consumed it.
func (f *FSM) PrepareUserRestore(prefix []byte, st *engine.State) (forget func()) {
	f.prep.mu.Lock()
	f.prep.prefix, f.prep.state = bytes.Clone(prefix), st
	f.prep.mu.Unlock()
	return func() {
		f.prep.mu.Lock()
		f.prep.prefix, f.prep.state = nil, nil
		f.prep.mu.Unlock()
	}
}

// takePrepared returns the parked state if rc starts with its prefix, and
// otherwise a reader that replays the bytes it had to read.
func (f *FSM) takePrepared(rc io.Reader) (*engine.State, io.Reader) {
	f.prep.mu.Lock()
	prefix, st := f.prep.prefix, f.prep.state
	f.prep.prefix, f.prep.state = nil, nil
	f.prep.mu.Unlock()
	if st == nil {
		return nil, rc
	}
	head := make([]byte, len(prefix))
	n, _ := io.ReadFull(rc, head)
	if n == len(prefix) && bytes.Equal(head, prefix) {
		return st, nil
	}
	return nil, io.MultiReader(bytes.NewReader(head[:n]), rc)
}
