// Command heliosdb-lite is the HeliosDB-Lite server and its tools: start a
// node, dump and restore a running database, verify and inspect dump files,
// and look at a cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/heliosdb/heliosdb-lite/node"
)

// Exit codes. Scripts rely on them: 0 success, 1 failure, 2 bad usage or
// configuration, 3 damaged or incompatible input file.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitBadFile = 3
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func main() {
	// Signals become context cancellation; every command shuts down
	// through its context (start: ordered node shutdown; dump: the partial
	// temp file is removed).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "heliosdb-lite:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, node.ErrConfig) {
		return exitUsage
	}
	return exitFailure
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "heliosdb-lite",
		Short:         "HeliosDB-Lite: an in-memory SQL database that speaks the PostgreSQL protocol, alone or as a raft cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       node.Version,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(exitUsage, fmt.Errorf("%v (see '%s --help')", err, c.CommandPath()))
	})
	for _, add := range commands {
		root.AddCommand(add())
	}
	return root
}

// commands are registered by the files that define them.
var commands []func() *cobra.Command
