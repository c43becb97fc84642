// Package pgwire is the PostgreSQL wire-protocol (v3.0) server of
// HeliosDB-Lite: it accepts client connections, negotiates the startup
// (refusing SSL and GSS encryption with 'N'), authenticates (trust,
// cleartext password, md5, SCRAM-SHA-256), and then runs the simple and
// extended query protocols, COPY in both directions and CancelRequest
// against a Backend supplied by the SQL layer.
//
// The package owns the protocol and nothing else. Parsing, planning,
// transactions and the values of parameters such as server_version belong
// to the Session (backend.go); pgwire turns Go values into wire bytes and
// back (DecodeParam, EncodeValue) and maps errors to SQLSTATEs.
//
// # Connections and goroutines
//
// Each client connection is served by one goroutine (Server.runConn), which
// makes every Session call, so a Session needs no locking of its own. The
// only cross-goroutine event is a CancelRequest, which arrives on another
// connection and cancels the context of the statement running on the
// target connection. Close closes every connection and waits for all of
// these goroutines.
//
// # Failure containment
//
// A client that breaks the protocol (garbage, truncated or oversized
// messages, unknown message types) gets a FATAL 08P01 ErrorResponse and
// loses its connection; nothing it sends can make the server allocate more
// than Config.MaxMessageSize for one message. A panic inside a Session call
// is recovered, logged with its stack, reported to that client as XX000,
// and ends only that connection.
//
// # Errors
//
// An error from the Session reaches the client with the SQLSTATE of the
// first error in its chain implementing SQLStateError (else XX000, or 57014
// for a cancelled context) and the optional position, detail and hint
// fields. In the extended protocol an error discards every message up to
// the next Sync, as PostgreSQL does.
package pgwire
