// Package archtest holds the test that keeps the package graph pointing
// the way DESIGN.md says: cmd -> node -> {pgwire <- sql, replication, fsm,
// antientropy} -> snapshot -> engine. A package importing something it
// must not fails the build of trust, not just style: engine must stay a
// deterministic core with no outside dependencies of ours, and replication
// must work with any raft.FSM.
package archtest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

const module = "github.com/heliosdb/heliosdb-lite/"

// allowed lists, for each package, the packages of this module it may
// import. Packages not listed may import anything but cmd and test-only
// packages.
var allowed = map[string][]string{
	"engine":      {},
	"pgwire":      {},
	"replication": {},
	"snapshot":    {"engine"},
	"fsm":         {"engine", "snapshot"},
	"sql":         {"engine", "pgwire"},
	"antientropy": {"engine", "snapshot", "replication", "fsm"},
}

// forbiddenEverywhere may not be imported by any non-test package.
var forbiddenEverywhere = []string{"cmd/", "cluster-tests", "clienttests", "internal/proctest", "internal/archtest"}

func TestImportDirections(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{join .Imports \",\"}}", "./...")
	cmd.Dir = proctest.RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		rel := strings.TrimPrefix(pkg, module)
		if rel == pkg {
			continue
		}
		for _, imp := range strings.Split(imports, ",") {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			for _, f := range forbiddenEverywhere {
				if strings.HasPrefix(dep, f) && !strings.HasPrefix(rel, "cmd/") {
					t.Errorf("%s imports %s: no production package may import %s", rel, dep, f)
				}
			}
			ok, listed := allowed[rel]
			if !listed {
				continue
			}
			permitted := false
			for _, a := range ok {
				if dep == a {
					permitted = true
				}
			}
			if !permitted {
				t.Errorf("%s imports %s; DESIGN.md allows it only %v", rel, dep, ok)
			}
		}
	}
}
