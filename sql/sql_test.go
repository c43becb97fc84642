package sql

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/pgwire"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata expected output")

func newTestDB(t testing.TB) (*DB, *engine.Engine) {
	t.Helper()
	e := engine.New()
	cfg := NewLocalConfig(e)
	clock := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg.Clock = func() time.Time { return clock }
	cfg.Rand = &seqReader{}
	return New(cfg), e
}

// seqReader is a deterministic entropy source for tests.
type seqReader struct{ n byte }

func (r *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

// formatResult renders a result the way the testdata files show it.
func formatResult(b *strings.Builder, res *pgwire.Result) {
	if res.Columns != nil {
		names := make([]string, len(res.Columns))
		for i, c := range res.Columns {
			names[i] = c.Name
		}
		b.WriteString(strings.Join(names, " | ") + "\n")
		for _, r := range res.Rows {
			vals := make([]string, len(r))
			for i, v := range r {
				switch x := v.(type) {
				case nil:
					vals[i] = "NULL"
				case time.Time:
					// As a client reads it: pgwire's text form.
					out, err := pgwire.EncodeValue(res.Columns[i].TypeOID, pgwire.TextFormat, x, nil)
					if err != nil {
						out = []byte(err.Error())
					}
					vals[i] = string(out)
				case [16]byte:
					vals[i] = formatValue(engine.UUID(x))
				case []byte:
					vals[i] = formatValue(x)
				default:
					vals[i] = fmt.Sprint(x)
				}
			}
			b.WriteString(strings.Join(vals, " | ") + "\n")
		}
	}
	b.WriteString(res.Tag + "\n")
}

func runScript(t *testing.T, s *Session, sqlText string) string {
	var b strings.Builder
	stmts, err := s.PrepareSimple(context.Background(), sqlText)
	if err != nil {
		fmt.Fprintf(&b, "ERROR %s: %s\n", sqlState(err), err)
		return b.String()
	}
	for _, st := range stmts {
		res, err := st.Execute(context.Background(), nil)
		if err != nil {
			fmt.Fprintf(&b, "ERROR %s: %s\n", sqlState(err), err)
			break
		}
		if res.CopyIn != nil || res.CopyOut != nil {
			b.WriteString("COPY\n")
			continue
		}
		formatResult(&b, res)
	}
	return b.String()
}

// TestDataDriven runs testdata/*.sql: cases separated by blank lines, SQL
// then "----" then the expected output. -rewrite regenerates the files.
func TestDataDriven(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.sql")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			db, _ := newTestDB(t)
			s := db.NewLocalSession()
			var out strings.Builder
			for _, block := range strings.Split(strings.TrimSpace(string(data)), "\n\n") {
				sqlPart, expected, _ := strings.Cut(block, "\n----\n")
				sqlPart = strings.TrimSuffix(sqlPart, "\n----")
				var sqlLines []string
				for _, l := range strings.Split(sqlPart, "\n") {
					if strings.HasPrefix(l, "#") {
						out.WriteString(l + "\n")
						continue
					}
					sqlLines = append(sqlLines, l)
				}
				text := strings.Join(sqlLines, "\n")
				if strings.TrimSpace(text) == "" {
					out.WriteString("\n")
					continue
				}
				got := runScript(t, s, text)
				out.WriteString(text + "\n----\n" + got + "\n")
				if !*rewrite && strings.TrimSpace(got) != strings.TrimSpace(expected) {
					t.Errorf("%s\n--- got:\n%s--- want:\n%s", text, got, expected)
				}
			}
			if *rewrite {
				if err := os.WriteFile(f, []byte(strings.TrimSpace(out.String())+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
