package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// Scheduled dumps ([dump] in config.toml): a full dump into backup_dir on
// the cron schedule, and whenever the bytes written since the last dump
// exceed wal_size_threshold; dumps older than retention_days are pruned;
// failures are logged, mailed through sendmail when notify_email is set
// and sendmail exists, and POSTed as JSON to notify_webhook.
//
// Only the leader dumps (n.repl.IsLeader()), so a cluster takes one dump
// per schedule tick, not one per node.

// cronSpec is a parsed 5-field cron expression (minute hour day-of-month
// month day-of-week), each field a set of allowed values.
type cronSpec struct {
	min, hour, dom, month, dow uint64 // bit sets
	domStar, dowStar           bool
}

// parseCron parses "m h dom mon dow" with *, lists, ranges and steps
// (*/6, 1-5, 0,30, 10-50/10). Day-of-week 0 and 7 are Sunday. As in cron,
// when both day fields are restricted a day matching either one runs.
func parseCron(s string) (*cronSpec, error) {
	f := strings.Fields(s)
	if len(f) != 5 {
		return nil, fmt.Errorf("cron schedule %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", s, len(f))
	}
	c := &cronSpec{domStar: f[2] == "*", dowStar: f[4] == "*"}
	var err error
	fields := []struct {
		dst      *uint64
		lo, hi   int
		name     string
		spec     string
		wrapDays bool
	}{
		{&c.min, 0, 59, "minute", f[0], false},
		{&c.hour, 0, 23, "hour", f[1], false},
		{&c.dom, 1, 31, "day of month", f[2], false},
		{&c.month, 1, 12, "month", f[3], false},
		{&c.dow, 0, 7, "day of week", f[4], true},
	}
	for _, fl := range fields {
		if *fl.dst, err = parseCronField(fl.spec, fl.lo, fl.hi); err != nil {
			return nil, fmt.Errorf("cron schedule %q: %s field: %v", s, fl.name, err)
		}
		if fl.wrapDays && *fl.dst&(1<<7) != 0 {
			*fl.dst |= 1
		}
	}
	return c, nil
}

func parseCronField(s string, lo, hi int) (uint64, error) {
	var set uint64
	for _, part := range strings.Split(s, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("bad step %q", stepS)
			}
			step = n
		}
		a, b := lo, hi
		if rng != "*" {
			x, y, isRange := strings.Cut(rng, "-")
			var err error
			if a, err = strconv.Atoi(x); err != nil {
				return 0, fmt.Errorf("bad value %q", x)
			}
			b = a
			if isRange {
				if b, err = strconv.Atoi(y); err != nil {
					return 0, fmt.Errorf("bad value %q", y)
				}
			} else if hasStep {
				b = hi
			}
		}
		if a < lo || b > hi || a > b {
			return 0, fmt.Errorf("%q is outside %d-%d", part, lo, hi)
		}
		for v := a; v <= b; v += step {
			set |= 1 << v
		}
	}
	return set, nil
}

// next returns the first minute strictly after t that matches.
func (c *cronSpec) next(t time.Time) time.Time {
	t = t.Truncate(time.Minute).Add(time.Minute)
	for limit := 0; limit < 366*24*60; limit++ {
		if c.month&(1<<int(t.Month())) == 0 {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, t.Location())
			continue
		}
		domOK := c.dom&(1<<t.Day()) != 0
		dowOK := c.dow&(1<<int(t.Weekday())) != 0
		dayOK := domOK && dowOK
		if !c.domStar && !c.dowStar {
			dayOK = domOK || dowOK
		}
		if !dayOK {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
			continue
		}
		if c.hour&(1<<t.Hour()) == 0 {
			t = t.Truncate(time.Hour).Add(time.Hour)
			continue
		}
		if c.min&(1<<t.Minute()) == 0 {
			t = t.Add(time.Minute)
			continue
		}
		return t
	}
	return time.Time{}
}

// StartDumpSchedule starts the scheduled-dump goroutine when [dump] asks
// for scheduled or threshold dumps into a backup_dir. It returns at once;
// the goroutine ends with the node (Close).
func (n *Node) StartDumpSchedule() error {
	dc := n.cfg.Dump
	if dc.BackupDir == "" || (dc.Schedule == "" && dc.WALSizeThreshold <= 0) {
		return nil
	}
	var spec *cronSpec
	if dc.Schedule != "" {
		var err error
		if spec, err = parseCron(dc.Schedule); err != nil {
			return configErr("[dump] schedule: %v", err)
		}
	}
	if err := os.MkdirAll(dc.BackupDir, 0o755); err != nil {
		return fmt.Errorf("[dump] backup_dir %s: %w", dc.BackupDir, err)
	}
	n.goFunc(func() { n.runDumpSchedule(spec) })
	return nil
}

// runDumpSchedule wakes at each cron tick, and every few seconds to check
// the dirty-byte threshold, until shutdown.
func (n *Node) runDumpSchedule(spec *cronSpec) {
	dc := n.cfg.Dump
	check := time.NewTicker(5 * time.Second)
	defer check.Stop()
	var tick <-chan time.Time
	arm := func() {
		if spec == nil {
			return
		}
		if at := spec.next(time.Now()); !at.IsZero() {
			tick = time.After(time.Until(at))
		}
	}
	arm()
	for {
		reason := ""
		select {
		case <-n.shutdown:
			return
		case <-tick:
			arm()
			reason = "schedule"
		case <-check.C:
			if total, _ := n.eng.DirtyBytes(""); dc.WALSizeThreshold > 0 && total > dc.WALSizeThreshold {
				reason = "wal_size_threshold"
			}
		}
		if n.cfg.Clustered() {
			// One cluster dump per tick for the whole cluster, proposed by
			// the leader through the log (schedule_cluster.go).
			if reason == "schedule" || reason == "" {
				n.clusterScheduleTick(spec, time.Now())
			} else if n.repl.IsLeader() {
				if err := n.clusterScheduledDump(context.Background(), 0, reason); err != nil {
					n.notifyDumpFailure(reason, err)
				}
			}
			continue
		}
		if reason == "" || !n.repl.IsLeader() {
			continue
		}
		if _, err := n.ensureDatabaseID(context.Background()); err != nil {
			n.notifyDumpFailure(reason, err)
			continue
		}
		path, err := n.scheduledDump(context.Background())
		if err != nil {
			n.notifyDumpFailure(reason, err)
			continue
		}
		n.log.Info("scheduled dump complete", "reason", reason, "path", path)
		n.pruneDumps(time.Now())
	}
}

// scheduledDump writes backup_dir/heliosdb-YYYYMMDD-HHMMSS.heliodump
// atomically and marks the state dumped.
func (n *Node) scheduledDump(ctx context.Context) (string, error) {
	dc := n.cfg.Dump
	wo := snapshot.DefaultWriterOptions()
	var err error
	if wo.Compression, err = snapshot.ParseCompression(dc.Compression); err != nil {
		return "", err
	}
	wo.Level = dc.CompressionLevel
	wo.NodeID = n.cfg.Server.NodeID
	snap := n.eng.Snapshot()
	wo.ClusterID = databaseID(snap) // created by the caller (runSchedule)
	path := filepath.Join(dc.BackupDir, "heliosdb-"+time.Now().Format("20060102-150405")+".heliodump")
	err = snapshot.WriteFileAtomic(path, func(w io.Writer) error {
		_, werr := snapshot.WriteFull(ctx, w, snap, wo)
		return werr
	})
	if err != nil {
		return "", fmt.Errorf("scheduled dump to %s: %w", path, err)
	}
	n.eng.MarkDumped(snap)
	return path, nil
}

// pruneDumps removes *.heliodump files in backup_dir older than
// retention_days (0 keeps everything).
func (n *Node) pruneDumps(now time.Time) {
	dc := n.cfg.Dump
	if dc.RetentionDays <= 0 {
		return
	}
	cutoff := now.Add(-time.Duration(dc.RetentionDays) * 24 * time.Hour)
	matches, _ := filepath.Glob(filepath.Join(dc.BackupDir, "*.heliodump"))
	for _, p := range matches {
		if fi, err := os.Stat(p); err == nil && fi.ModTime().Before(cutoff) {
			if err := os.Remove(p); err != nil {
				n.log.Warn("pruning old dump failed", "path", p, "err", err)
			} else {
				n.log.Info("pruned old dump", "path", p, "retention_days", dc.RetentionDays)
			}
		}
	}
}

// notifyDumpFailure logs, mails and POSTs a failed scheduled dump.
// Notification failures are logged, never retried: the next tick tries
// the dump again anyway.
func (n *Node) notifyDumpFailure(reason string, derr error) {
	dc := n.cfg.Dump
	n.log.Error("scheduled dump failed", "reason", reason, "err", derr, "notify_email", dc.NotifyEmail)
	msg := map[string]any{"event": "dump_failed", "node_id": n.cfg.Server.NodeID, "reason": reason,
		"error": derr.Error(), "backup_dir": dc.BackupDir, "time": time.Now().UTC().Format(time.RFC3339)}
	if dc.NotifyEmail != "" {
		if sm, err := exec.LookPath("sendmail"); err == nil {
			body := fmt.Sprintf("To: %s\nSubject: HeliosDB-Lite scheduled dump failed on %s\n\n%s\n", dc.NotifyEmail, n.cfg.Server.NodeID, derr)
			cmd := exec.Command(sm, "-t")
			cmd.Stdin = strings.NewReader(body)
			if err := cmd.Run(); err != nil {
				n.log.Warn("notify_email: sendmail failed", "err", err)
			}
		}
	}
	if dc.NotifyWebhook != "" {
		b, _ := json.Marshal(msg)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, dc.NotifyWebhook, bytes.NewReader(b))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		if err != nil {
			n.log.Warn("notify_webhook failed", "url", dc.NotifyWebhook, "err", err)
		}
	}
}
