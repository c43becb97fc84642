package snapshot

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The text reports below are what the CLI prints (verify, inspect,
// restore --dry-run, restore --salvage). Their first lines follow the
// dump/restore guide exactly; scripts grep them (for instance
// `grep "Row count" | awk '{print $3}'`), so change them only together
// with the guide.

func versionLine(h FileHeader, ok bool) string {
	prod := nonEmpty(h.Product, fmt.Sprintf("format %d.%d", h.Major, h.Minor))
	if ok {
		return fmt.Sprintf("Version: %s (compatible)", prod)
	}
	return fmt.Sprintf("Version: %s (incompatible: format %d.%d, this build reads %d.x)", prod, h.Major, h.Minor, FormatMajor)
}

func okFailed(ok bool) string {
	if ok {
		return "OK"
	}
	return "FAILED"
}

// WriteText prints the verify report in the guide's shape:
//
//	Verifying backup.heliodump...
//	Magic: OK
//	Version: 3.1.0 (compatible)
//	Metadata checksum: OK
//	Data checksum: OK (CRC32: 0xA1B2C3D4)
//	Verification: PASSED
//
// On damage, one line per damaged place precedes the verdict.
func (v *VerifyReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Verifying %s...\n", nonEmpty(v.Name, "input"))
	fmt.Fprintf(&b, "Magic: %s\n", okFailed(v.MagicOK))
	if !v.MagicOK {
		b.WriteString("Error: not a .heliodump file (it does not start with HELIODMP)\n")
		b.WriteString("Verification: FAILED\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString(versionLine(v.File, v.VersionOK) + "\n")
	if v.Fatal != nil && !v.VersionOK {
		fmt.Fprintf(&b, "Error: %v\n", v.Fatal)
		b.WriteString("Verification: FAILED\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "Metadata checksum: %s\n", okFailed(v.MetadataOK))
	switch {
	case v.DataOK && v.TornTail == nil && len(v.Segments) > 0:
		fmt.Fprintf(&b, "Data checksum: OK (CRC32: 0x%08X)\n", v.Checksum)
	case v.DataOK && v.TornTail != nil:
		// Every section that is there checked out, but the file is cut
		// short: "OK" alone would read as a good file.
		b.WriteString("Data checksum: INCOMPLETE (the sections present are intact; the file ends early)\n")
	default:
		fmt.Fprintf(&b, "Data checksum: %s\n", okFailed(v.DataOK))
	}
	if len(v.Segments) > 1 {
		fmt.Fprintf(&b, "Segments: %d (LSN %d..%d)\n", len(v.Segments), v.Segments[0].Header.BaseLSN, v.Segments[len(v.Segments)-1].Header.LastLSN)
	}
	for _, d := range v.Damage {
		b.WriteString("Damaged: " + d.String() + "\n")
	}
	if t := v.TornTail; t != nil {
		complete := 0
		for _, s := range v.Segments {
			if s.Complete {
				complete++
			}
		}
		fmt.Fprintf(&b, "Torn tail at offset %d: segment %d is incomplete (%s); %d complete segment(s) before it are usable\n", t.Offset, t.Segment, t.Reason, complete)
	}
	if v.Fatal != nil {
		fmt.Fprintf(&b, "Error: %v\n", v.Fatal)
	}
	if v.Passed() {
		b.WriteString("Verification: PASSED\n")
	} else {
		b.WriteString("Verification: FAILED\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String renders one damaged place: segment, table, batch, byte offset.
func (d Damage) String() string {
	var parts []string
	if d.Segment > 0 {
		parts = append(parts, fmt.Sprintf("segment %d", d.Segment))
	} else {
		parts = append(parts, "file header")
	}
	if d.Table != "" {
		parts = append(parts, "table "+d.Table)
	}
	if d.Batch >= 0 {
		parts = append(parts, fmt.Sprintf("batch %d", d.Batch))
	}
	parts = append(parts, fmt.Sprintf("byte offset %d", d.Offset))
	if d.Size > 0 {
		parts = append(parts, fmt.Sprintf("%d bytes", d.Size))
	}
	return strings.Join(parts, ", ") + ": " + d.Reason
}

// WriteText prints the inspect report. For every table it prints a line
// "  Row count: N" (N is the third whitespace-separated field), the
// table's rows at the file's last LSN.
func (r *InspectReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "File: %s\n", nonEmpty(r.Name, "input"))
	fmt.Fprintf(&b, "Format: %d.%d (written by HeliosDB-Lite %s)\n", r.File.Major, r.File.Minor, nonEmpty(r.File.Product, "unknown"))
	fmt.Fprintf(&b, "Size: %s\n", humanBytes(uint64(r.Size)))
	fmt.Fprintf(&b, "Segments: %d\n", len(r.Segments))
	for _, s := range r.Segments {
		h, f := s.Header, s.Footer
		fmt.Fprintf(&b, "Segment %d: %s, LSN %d..%d, created %s, dump_id %s\n", s.No, h.Kind(), h.BaseLSN, h.LastLSN, h.CreatedAt.Format("2006-01-02 15:04:05 MST"), h.DumpID)
		comp := h.Compression.String()
		if h.Compression != CompressNone {
			comp += " level " + strconv.Itoa(h.Level)
		}
		fmt.Fprintf(&b, "  Compression: %s\n", comp)
		fmt.Fprintf(&b, "  Size: %s stored, %s uncompressed, offset %d\n", humanBytes(uint64(s.End-s.Offset)), humanBytes(f.RawBytes), s.Offset)
		if h.ClusterID != "" || h.NodeID != "" {
			fmt.Fprintf(&b, "  Source: cluster %q node %q, HeliosDB-Lite %s\n", h.ClusterID, h.NodeID, h.Product)
		}
		fmt.Fprintf(&b, "  Checksum: CRC32: 0x%08X\n", f.Checksum)
	}
	if r.TornTail != nil {
		fmt.Fprintf(&b, "Torn tail at offset %d: %s\n", r.TornTail.Offset, r.TornTail.Reason)
	}
	tables := r.Tables()
	fmt.Fprintf(&b, "Tables: %d\n", len(tables))
	for _, name := range tables {
		if r.Filter != "" && name != r.Filter {
			continue
		}
		ts, _ := r.tableStats(name)
		var raw, stored uint64
		for _, s := range r.Segments {
			for _, t := range s.Footer.Tables {
				if t.Name == name {
					raw += t.RawBytes
					stored += t.Stored
				}
			}
		}
		fmt.Fprintf(&b, "Table: %s\n", name)
		fmt.Fprintf(&b, "  Row count: %d\n", ts.TableRows)
		fmt.Fprintf(&b, "  Row hash sum: 0x%016X\n", ts.TableHashSum)
		fmt.Fprintf(&b, "  Uncompressed size: %s\n", humanBytes(raw))
		fmt.Fprintf(&b, "  Compressed size: %s\n", humanBytes(stored))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteText prints the dry-run report in the guide's shape.
func (d *DryRunReport) WriteText(w io.Writer) error {
	var b strings.Builder
	v := d.Verify
	fmt.Fprintf(&b, "Dump file: %s\n", nonEmpty(d.Name, "input"))
	if !v.MagicOK {
		b.WriteString("Error: not a .heliodump file\nValidation: FAILED\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString(versionLine(v.File, v.VersionOK) + "\n")
	if !d.Created.IsZero() {
		fmt.Fprintf(&b, "Created: %s\n", d.Created.UTC().Format("2006-01-02 15:04:05"))
	}
	fmt.Fprintf(&b, "Tables: %s\n", strings.Join(d.Tables, ", "))
	if d.Subset {
		b.WriteString("Subset: yes (dump --tables): a restore replaces only these tables and leaves the database's other tables alone\n")
	}
	fmt.Fprintf(&b, "Total rows: %s\n", commas(d.TotalRows))
	fmt.Fprintf(&b, "Compressed size: %s\n", humanBytes(uint64(d.Compressed)))
	fmt.Fprintf(&b, "Uncompressed size: %s\n", humanBytes(d.Uncompressed))
	fmt.Fprintf(&b, "Estimated restore time: %s\n", estimate(float64(d.Uncompressed)/d.RestoreRate))
	if v.Passed() {
		b.WriteString("Validation: PASSED\n")
	} else {
		for _, dm := range v.Damage {
			b.WriteString("Damaged: " + dm.String() + "\n")
		}
		if v.TornTail != nil {
			fmt.Fprintf(&b, "Torn tail at offset %d: %s\n", v.TornTail.Offset, v.TornTail.Reason)
		}
		if v.Fatal != nil {
			fmt.Fprintf(&b, "Error: %v\n", v.Fatal)
		}
		b.WriteString("Validation: FAILED\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteText prints what a salvage recovered and exactly what it lost.
func (s *SalvageReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Segments read: %d\n", s.Segments)
	fmt.Fprintf(&b, "Rows recovered: %s\n", commas(s.Recovered))
	for _, t := range s.Tables {
		if t.HaveCount {
			fmt.Fprintf(&b, "Table %s: %s of %s rows recovered\n", t.Name, commas(t.Rows), commas(t.Expected))
		} else {
			fmt.Fprintf(&b, "Table %s: %s rows recovered (footer lost: total unknown)\n", t.Name, commas(t.Rows))
		}
	}
	for _, l := range s.Lost {
		fmt.Fprintf(&b, "Lost: segment %d, table %s, batch %d, byte offset %d (%d bytes)", l.Segment, nonEmpty(l.Table, "?"), l.Batch, l.Offset, l.Size)
		if l.EndRow > l.FirstRow {
			fmt.Fprintf(&b, ", rows %d..%d", l.FirstRow, l.EndRow-1)
		}
		fmt.Fprintf(&b, ", keys after %s before %s: %s\n", keyText(l.AfterKey), keyText(l.BeforeKey), l.Reason)
	}
	for _, d := range s.Damage {
		b.WriteString("Damaged: " + d.String() + "\n")
	}
	if s.TornTail != nil {
		fmt.Fprintf(&b, "Torn tail at offset %d: %s\n", s.TornTail.Offset, s.TornTail.Reason)
	}
	if len(s.Lost) == 0 && len(s.Damage) == 0 && s.TornTail == nil {
		b.WriteString("Salvage: COMPLETE (nothing lost)\n")
	} else {
		b.WriteString("Salvage: PARTIAL\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func keyText(k []byte) string {
	if k == nil {
		return "(open)"
	}
	return fmt.Sprintf("0x%x", k)
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d bytes", n)
}

func commas(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func estimate(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d < time.Second:
		return "~1 second"
	case d < 2*time.Minute:
		return fmt.Sprintf("~%d seconds", int(d.Round(time.Second)/time.Second))
	case d < 2*time.Hour:
		return fmt.Sprintf("~%d minutes", int(d.Round(time.Minute)/time.Minute))
	}
	return fmt.Sprintf("~%.1f hours", d.Hours())
}
