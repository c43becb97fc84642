package engine

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// CheckRowShape proves a batch from one row exactly for the tags whose
// every well-formed value CheckRow accepts: random well-formed values of
// a tag it proves are all accepted, and for each tag it does not prove
// some are refused. A bad first row is refused.
func TestCheckRowShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sample := map[byte]Value{tagInt: int64(-7), tagFloat: 2.5, tagNumeric: Numeric("1.25"), tagBool: true, tagString: "s",
		tagBytes: []byte{1}, tagDate: Date(3), tagTimestamp: Timestamp(4), tagUUID: UUID{9}}
	// wellFormed is a random value of tag as the one-shape rebuild may
	// write it: any varint, any fixed-size bytes, any length-prefixed bytes.
	wellFormed := func(tag byte) []byte {
		v := []byte{tag}
		switch tag {
		case tagInt, tagDate, tagTimestamp:
			return binary.AppendVarint(v, int64(rng.Uint64())>>rng.IntN(64))
		case tagFloat, tagBool, tagUUID:
			n := map[byte]int{tagFloat: 8, tagBool: 1, tagUUID: 16}[tag]
			for range n {
				v = append(v, byte(rng.Uint32()))
			}
			return v
		}
		b := make([]byte, rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return append(binary.AppendUvarint(v, uint64(len(b))), b...)
	}
	for tag, val := range sample {
		first, err := EncodeRow(nil, Row{int64(1), nil, val})
		if err != nil {
			t.Fatal(err)
		}
		head := []byte{3, 0x02, tagInt, 2} // three columns, column 1 NULL, int 1
		if !bytes.HasPrefix(first, head) || first[len(head)] != tag {
			t.Fatalf("tag %d: first row %x is not of the batch's shape", tag, first)
		}
		proved, err := CheckRowShape(first, []byte{tagInt, tag})
		if err != nil {
			t.Fatalf("tag %d: %v", tag, err)
		}
		refused := 0
		for range 3000 {
			enc := append(head[:len(head):len(head)], wellFormed(tag)...)
			if CheckRow(enc) != nil {
				refused++
			}
		}
		if proved != (refused == 0) {
			t.Fatalf("tag %d: CheckRowShape proves %v, CheckRow refused %d of 3000 well-formed values", tag, proved, refused)
		}
	}
	if _, err := CheckRowShape([]byte{1, 0x02}, nil); err == nil {
		t.Fatal("a stray bit in the NULL bitmap is accepted")
	}
}
