package replication

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The replication package takes a raft.FSM and must not depend on what the
// entries mean: no imports of the fsm, engine, sql or snapshot packages.
func TestImportBoundary(t *testing.T) {
	const module = "github.com/heliosdb/heliosdb-lite/"
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasSuffix(name, "_test.go") && path == module+"internal/proctest" {
				continue // the shared test harness (free ports) is no dependency of the package
			}
			if strings.HasPrefix(path, module) {
				t.Errorf("%s imports %s: replication must not import other packages of this module", name, path)
			}
		}
	}
}
