package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// dumpProgress prints dump --verbose lines and, on a terminal, a progress
// line with bytes and rate. Everything goes to standard error, never to
// standard output (which may carry the dump itself).
//
// The verbose lines are computed from the stream as it passes: tee feeds
// a copy of the bytes to a snapshot.Reader on its own goroutine, which
// sees the tables, batches and footer exactly as a restore will.
type dumpProgress struct {
	verbose bool
	bar     bool
	out     io.Writer // the progress bar: standard error, on a terminal
	lines   io.Writer // the verbose lines

	pw   *io.PipeWriter
	done chan struct{}

	// mu guards the progress line state shared by the writer goroutine
	// (bytes) and the reader goroutine (verbose lines).
	mu      sync.Mutex
	started time.Time
	n       int64
	drawn   time.Time
	barOn   bool

	// Filled by the reader goroutine; read after done is closed.
	tables int
	rows   uint64
	raw    uint64
}

// newDumpProgress prints the verbose lines to lines: standard output when
// the dump goes to a file (so the guide's `dump --verbose | tee >(grep
// "Dump complete" ...)` sees them), standard error when standard output
// carries the dump itself.
func newDumpProgress(verbose bool, lines io.Writer) *dumpProgress {
	return &dumpProgress{verbose: verbose, bar: isatty.IsTerminal(os.Stderr.Fd()), out: os.Stderr, lines: lines}
}

func (p *dumpProgress) start() {
	p.started = time.Now()
	if p.verbose {
		p.line("Starting dump...")
	}
}

// line prints one verbose line, clearing the progress line first.
func (p *dumpProgress) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.barOn {
		fmt.Fprint(p.out, "\r\033[K")
		p.barOn = false
	}
	fmt.Fprintf(p.lines, "%s %s\n", stamp(), fmt.Sprintf(format, args...))
}

// bytes is called after every write with the total so far.
func (p *dumpProgress) bytes(n int64) {
	if !p.bar {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n = n
	if time.Since(p.drawn) < 200*time.Millisecond {
		return
	}
	p.drawn = time.Now()
	rate := float64(n) / max(time.Since(p.started).Seconds(), 1e-3)
	width := 30
	pos := int(time.Since(p.started)/(100*time.Millisecond)) % width
	bar := []byte(fmt.Sprintf("%*s", width, ""))
	bar[pos] = '='
	fmt.Fprintf(p.out, "\r\033[K[%s] %s  %s/s", bar, humanSize(n), humanSize(int64(rate)))
	p.barOn = true
}

// tee returns w, or w plus a copy into the verbose reader.
func (p *dumpProgress) tee(w io.Writer) io.Writer {
	if !p.verbose {
		return w
	}
	pr, pw := io.Pipe()
	p.pw, p.done = pw, make(chan struct{})
	go p.runReader(pr)
	return &teeWriter{w: w, pw: pw}
}

// teeWriter writes to w and to the verbose reader. A verbose reader that
// failed never fails the dump: its copy is simply dropped.
type teeWriter struct {
	w    io.Writer
	pw   *io.PipeWriter
	dead bool
}

func (t *teeWriter) Write(b []byte) (int, error) {
	n, err := t.w.Write(b)
	if err != nil {
		return n, err
	}
	if !t.dead {
		if _, perr := t.pw.Write(b); perr != nil {
			t.dead = true
		}
	}
	return n, nil
}

func (p *dumpProgress) runReader(pr *io.PipeReader) {
	defer close(p.done)
	defer pr.Close()
	rd := snapshot.NewReaderWith(pr, snapshot.ReaderOptions{Workers: 1})
	defer rd.Close()
	var cur string
	var curRows, curRaw uint64
	var order map[string]int
	flush := func() {
		if cur != "" {
			p.line("Exported %s rows (%s)", commas(curRows), humanSize(int64(curRaw)))
		}
	}
	for {
		it, err := rd.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_, _ = io.Copy(io.Discard, pr)
			}
			return
		}
		switch it.Kind {
		case snapshot.ItemSegment:
			p.tables = len(it.Segment.Tables)
			order = map[string]int{}
			for i, t := range it.Segment.Tables {
				order[t] = i + 1
			}
		case snapshot.ItemRows:
			b := it.Batch
			if b.Table != cur {
				flush()
				cur, curRows, curRaw = b.Table, 0, 0
				p.line("Dumping table '%s' (%d/%d)", cur, order[cur], p.tables)
			}
			curRows += uint64(len(b.Rows))
			curRaw += uint64(b.RawLen)
		case snapshot.ItemFooter:
			flush()
			cur = ""
			for _, t := range it.Footer.Tables {
				p.rows += t.Rows
				p.raw += t.RawBytes
			}
		}
	}
}

// finish closes the verbose reader and prints the summary line.
func (p *dumpProgress) finish(size int64, err error) {
	if p.pw != nil {
		_ = p.pw.Close()
		<-p.done
	}
	p.mu.Lock()
	if p.barOn {
		fmt.Fprint(p.out, "\r\033[K")
		p.barOn = false
	}
	p.mu.Unlock()
	if !p.verbose || err != nil {
		return
	}
	p.line("Dump complete: %d tables, %s rows, %s (compressed: %s)", p.tables, commas(p.rows), humanSize(int64(p.raw)), humanSize(size))
}
