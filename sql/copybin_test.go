package sql

import (
	"bytes"
	"testing"
)

// FuzzReadBinaryCopy: any input either parses into rows of the requested
// width or fails with 22P04, never panics, and what writeBinaryCopy-style
// framing produces parses back.
func FuzzReadBinaryCopy(f *testing.F) {
	hdr := append(append([]byte{}, copySignature...), 0, 0, 0, 0, 0, 0, 0, 0)
	f.Add(append(append([]byte{}, hdr...), 0, 2, 0, 0, 0, 1, 'x', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	f.Add(append(append([]byte{}, hdr...), 0, 2, 0x7f, 0xff, 0xff, 0xff))
	f.Add([]byte("PGCOPY"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := readBinaryCopyRows(bytes.NewReader(data), 2)
		if err != nil {
			if sqlState(err) != codeBadCopyFile {
				t.Fatalf("error %v has SQLSTATE %s", err, sqlState(err))
			}
			return
		}
		for _, r := range rows {
			if len(r) != 2 {
				t.Fatalf("row of %d fields", len(r))
			}
		}
	})
}

func TestReadBinaryCopyRows(t *testing.T) {
	hdr := append(append([]byte{}, copySignature...), 0, 0, 0, 0, 0, 0, 0, 0)
	in := append(append([]byte{}, hdr...), 0, 2, 0, 0, 0, 1, 'x', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	rows, err := readBinaryCopyRows(bytes.NewReader(in), 2)
	if err != nil || len(rows) != 1 || string(rows[0][0]) != "x" || rows[0][1] != nil {
		t.Fatalf("rows %q err %v", rows, err)
	}
}
