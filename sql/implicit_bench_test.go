package sql

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMultiStatementQuery runs simple Queries of 10 single-row
// INSERTs each (one implicit transaction block per Query since it is
// atomic), reporting process CPU per Query.
func BenchmarkMultiStatementQuery(b *testing.B) {
	db, _ := newTestDB(b)
	s := db.NewLocalSession()
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Exec(ctx, "create table mqb (id int primary key, v text)"); err != nil {
		b.Fatal(err)
	}
	queries := make([]string, b.N)
	for i := range queries {
		var q strings.Builder
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&q, "insert into mqb values (%d, 'v%d');", i*10+j, j)
		}
		queries[i] = q.String()
	}
	b.ResetTimer()
	cpu := cpuNow()
	for _, q := range queries {
		if _, err := s.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuNow()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/query")
}
