package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

func init() { commands = append(commands, newVerifyCmd) }

func newVerifyCmd() *cobra.Command {
	var input string
	cmd := &cobra.Command{
		Use:   "verify --input FILE",
		Short: "Check every checksum of a .heliodump file (offline; exit 3 if damaged)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if input == "" {
				return withCode(exitUsage, errors.New("verify: --input is required"))
			}
			f, err := os.Open(input)
			if err != nil {
				return fmt.Errorf("verify: %v", err)
			}
			defer f.Close()
			rep, err := snapshot.Verify(f)
			if rep == nil {
				return withCode(exitBadFile, fmt.Errorf("verify: %s: %v", input, err))
			}
			rep.Name = input
			if werr := rep.WriteText(os.Stdout); werr != nil {
				return werr
			}
			if !rep.Passed() {
				return withCode(exitBadFile, fmt.Errorf("verify: %s is damaged or incompatible (see the lines above); use an earlier dump, or 'heliosdb-lite restore --salvage' to recover the intact parts", input))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "the .heliodump file (required)")
	return cmd
}
