package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// SegmentInfo locates one complete segment found by ScanSegments.
type SegmentInfo struct {
	No     int   // 1-based
	Offset int64 // first byte of the segment header section
	End    int64 // first byte after the footer
	Header *SegmentHeader
	Footer *Footer
}

// ScanResult is what ScanSegments found.
type ScanResult struct {
	File     FileHeader
	Segments []SegmentInfo // complete segments, in order
	// Torn is set when the file ends inside a segment (or with bytes that
	// are no section): the offset where the last complete segment ends.
	Torn *CorruptError
}

// ScanSegments walks the section headers of a file of the given size
// without reading batch payloads: it checks the file header, every section
// header, and the segment header and footer payloads. It is what append
// and chain checks use to find LSN ranges quickly; Verify checks the rest.
func ScanSegments(r io.ReaderAt, size int64) (*ScanResult, error) {
	var hb [fileHeaderLen]byte
	if size < fileHeaderLen {
		return nil, fmt.Errorf("%w: input is %d bytes long", ErrNotDump, size)
	}
	if _, err := r.ReadAt(hb[:], 0); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	fh, err := parseFileHeader(hb[:])
	res := &ScanResult{File: fh}
	if err != nil {
		return res, err
	}
	off := int64(fileHeaderLen)
	var cur *SegmentInfo
	segStart := off
	tornAt := func(reason string) (*ScanResult, error) {
		no := len(res.Segments) + 1
		res.Torn = &CorruptError{Offset: segStart, Segment: no, Batch: -1, Torn: true, Reason: reason}
		return res, nil
	}
	var fb [frameHeaderLen]byte
	for off < size {
		if size-off < frameHeaderLen {
			return tornAt(fmt.Sprintf("%d stray bytes at offset %d", size-off, off))
		}
		if _, err := r.ReadAt(fb[:], off); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		h, ok := parseFrameHeader(fb[:])
		if !ok {
			if cur == nil {
				return tornAt(fmt.Sprintf("no valid section at offset %d", off))
			}
			return tornAt(fmt.Sprintf("section header at offset %d is damaged or incomplete", off))
		}
		end := off + frameHeaderLen + int64(h.length) + frameTrailer
		if end > size {
			return tornAt(fmt.Sprintf("section at offset %d is cut short", off))
		}
		switch h.typ {
		case secSegmentHeader, secFooter:
			buf := make([]byte, h.length+frameTrailer)
			if _, err := r.ReadAt(buf, off+frameHeaderLen); err != nil {
				return nil, fmt.Errorf("snapshot: %w", err)
			}
			payload := buf[:h.length]
			if crc(payload) != binary.LittleEndian.Uint32(buf[h.length:]) {
				if cur != nil && h.typ == secFooter || cur == nil {
					return tornAt(fmt.Sprintf("%s at offset %d fails its checksum", sectionName(h.typ), off))
				}
			}
			if h.typ == secSegmentHeader {
				if cur != nil {
					return nil, &CorruptError{Offset: off, Segment: cur.No, Batch: -1, Reason: "segment without footer followed by another segment"}
				}
				sh, err := decodeSegmentHeader(payload)
				if err != nil {
					return tornAt("segment header: " + err.Error())
				}
				cur = &SegmentInfo{No: len(res.Segments) + 1, Offset: off, Header: sh}
				segStart = off
			} else {
				if cur == nil {
					return nil, &CorruptError{Offset: off, Batch: -1, Reason: "footer outside a segment"}
				}
				f, err := decodeFooter(payload, cur.Header.Tables)
				if err != nil {
					return tornAt("footer: " + err.Error())
				}
				cur.Footer, cur.End = f, end
				if n := len(res.Segments); n > 0 && cur.Header.Mode == ModeIncremental && cur.Header.BaseLSN != res.Segments[n-1].Header.LastLSN {
					return res, fmt.Errorf("%w: segment %d at offset %d starts at LSN %d but segment %d ends at LSN %d", ErrLSNGap, cur.No, cur.Offset, cur.Header.BaseLSN, n, res.Segments[n-1].Header.LastLSN)
				}
				res.Segments = append(res.Segments, *cur)
				cur = nil
				segStart = end
			}
		default:
			if cur == nil {
				return tornAt(fmt.Sprintf("%s at offset %d outside a segment", sectionName(h.typ), off))
			}
		}
		off = end
	}
	if cur != nil {
		return tornAt("input ends before the segment footer")
	}
	if len(res.Segments) == 0 {
		return res, errors.Join(ErrNoSegment, fmt.Errorf("snapshot: the file holds only its header"))
	}
	return res, nil
}
