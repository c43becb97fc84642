package replication

import (
	"errors"
	"syscall"
)

// Sentinel errors. Callers compare with errors.Is; the SQL layer maps them to
// SQLSTATEs through IsRetryable and SQLState rather than by message.
var (
	// ErrNotLeader: this node is not the leader and could not forward the
	// request (single-node mode, or no leader known). The request was NOT
	// proposed, so retrying it (elsewhere or later) is safe. Retryable.
	ErrNotLeader = errors.New("replication: not the leader")

	// ErrNoLeader: no leader became known before the deadline (election in
	// progress or quorum lost). Nothing was proposed. Retryable.
	ErrNoLeader = errors.New("replication: no leader")

	// ErrLeadershipLost: the entry was proposed but leadership was lost
	// before it was known to be committed. The outcome is unknown: it may
	// still commit. Retryable only by a client whose operation is
	// idempotent; its SQLSTATE is 40003 (statement completion unknown),
	// not 40001, because the SQL layer answers 40001 by evaluating the
	// statement again on a newer state, which applies it a second time if
	// the first attempt did commit (a chaos run saw exactly that: an
	// upsert that committed, then committed again after another client's
	// write, undoing it).
	ErrLeadershipLost = errors.New("replication: leadership lost while committing")

	// ErrShutdown: the node is shutting down or has shut down. Retryable on
	// another node (SQLSTATE 57P01).
	ErrShutdown = errors.New("replication: node is shut down")

	// ErrOutcomeUnknown: the caller's context ended after the entry was
	// proposed (or sent to the leader) but before its result was known.
	ErrOutcomeUnknown = errors.New("replication: outcome unknown (context ended after proposing)")

	// ErrForward: the request could not be delivered to the leader or its
	// answer could not be read (network error, timeout, bad status). Whether
	// the leader applied it is unknown unless the error also matches
	// ErrNotLeader.
	ErrForward = errors.New("replication: forwarding to leader failed")

	// ErrInvalidConfig wraps every Validate failure.
	ErrInvalidConfig = errors.New("replication: invalid config")

	// ErrUnencodableResponse: the FSM returned a value the ResponseCodec
	// cannot send to a forwarding follower.
	ErrUnencodableResponse = errors.New("replication: FSM response cannot be encoded for forwarding")

	// ErrNotCluster: a cluster-only operation was called on a node running in
	// single-node mode (no gossip configured).
	ErrNotCluster = errors.New("replication: not running in cluster mode")

	// ErrUnauthorized: an internal RPC carried a wrong or missing token.
	ErrUnauthorized = errors.New("replication: internal RPC unauthorized")
)

// SQLSTATE codes used by this package when an error has to be described to a
// PostgreSQL client or carried over the wire.
const (
	SQLStateSerializationFailure = "40001" // retry the transaction
	SQLStateCompletionUnknown    = "40003" // statement_completion_unknown: it may or may not have taken effect
	SQLStateAdminShutdown        = "57P01" // node going away; reconnect elsewhere
	SQLStateCannotConnectNow     = "57P03" // no leader yet
	SQLStateConnectionFailure    = "08006" // forwarding failed
	SQLStateDiskFull             = "53100" // the log (or a snapshot) could not be written: no space
	SQLStateInternalError        = "XX000"
)

// Retryable is implemented by errors that say whether the failed operation
// may be retried (the rqlite convention). It is a mark, not a message match.
type Retryable interface {
	Retryable() bool
}

// SQLStater is implemented by errors that carry a PostgreSQL SQLSTATE. The
// FSM's errors should implement it so that a follower's client sees the same
// code as the leader's client.
type SQLStater interface {
	SQLState() string
}

// IsRetryable reports whether err (or anything it wraps) is marked retryable:
// not-leader, no-leader, leadership-lost, shutdown, or a RemoteError/error
// implementing Retryable that says so.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var r Retryable
	if errors.As(err, &r) {
		return r.Retryable()
	}
	return errors.Is(err, ErrNotLeader) || errors.Is(err, ErrNoLeader) ||
		errors.Is(err, ErrLeadershipLost) || errors.Is(err, ErrShutdown)
}

// SQLState returns the SQLSTATE describing err: the code carried by the
// error itself when it has one, otherwise the category of this package's
// sentinels, otherwise XX000.
func SQLState(err error) string {
	var s SQLStater
	if errors.As(err, &s) {
		if c := s.SQLState(); c != "" {
			return c
		}
	}
	switch {
	case errors.Is(err, ErrShutdown):
		return SQLStateAdminShutdown
	case errors.Is(err, ErrNoLeader):
		return SQLStateCannotConnectNow
	case errors.Is(err, ErrNotLeader):
		return SQLStateSerializationFailure
	case errors.Is(err, ErrLeadershipLost):
		return SQLStateCompletionUnknown
	case errors.Is(err, ErrForward), errors.Is(err, ErrOutcomeUnknown):
		return SQLStateConnectionFailure
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		// Raft could not append to its log store; the write is not
		// committed and the leader steps down until the disk has room.
		return SQLStateDiskFull
	}
	return SQLStateInternalError
}

// RemoteError is an error produced on the leader (normally by its FSM) and
// carried back to a forwarding follower. Code is the SQLSTATE; Message is
// the leader's error text. Kind, when set, names one of this package's
// sentinels so errors.Is keeps working across the hop.
type RemoteError struct {
	Code    string
	Message string
	Kind    string
}

func (e *RemoteError) Error() string { return e.Message }

// SQLState returns the SQLSTATE the leader attached to the error.
func (e *RemoteError) SQLState() string { return e.Code }

// Retryable reports whether the leader classified the error as retryable.
func (e *RemoteError) Retryable() bool {
	if s := kindSentinel(e.Kind); s != nil {
		return IsRetryable(s)
	}
	return e.Code == SQLStateSerializationFailure
}

// Unwrap maps Kind back to the sentinel, so errors.Is(err, ErrNotLeader)
// holds on the follower exactly as on the leader.
func (e *RemoteError) Unwrap() error { return kindSentinel(e.Kind) }

// kinds names the sentinels that may cross the wire.
var kinds = map[string]error{
	"not_leader":      ErrNotLeader,
	"no_leader":       ErrNoLeader,
	"leadership_lost": ErrLeadershipLost,
	"shutdown":        ErrShutdown,
	"outcome_unknown": ErrOutcomeUnknown,
	"unencodable":     ErrUnencodableResponse,
	"unauthorized":    ErrUnauthorized,
}

func kindSentinel(kind string) error { return kinds[kind] }

// toRemote describes err for the wire.
func toRemote(err error) *RemoteError {
	if err == nil {
		return nil
	}
	var re *RemoteError
	if errors.As(err, &re) {
		return re
	}
	out := &RemoteError{Code: SQLState(err), Message: err.Error()}
	for k, s := range kinds {
		if errors.Is(err, s) {
			out.Kind = k
			break
		}
	}
	return out
}
