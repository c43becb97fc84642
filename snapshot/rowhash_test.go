package snapshot

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// hashRun agrees with engine.RowHash for every prefix, key and encoding
// length around the XXH64 block and tail boundaries, whatever bytes
// surround the run.
func TestRowHashInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 400)
	for _, table := range []string{"", "t", "bench", "seven77", "eight888", "a_longer_table_name_of_33_bytes_x", strings.Repeat("n", 70)} {
		var h rowHasher
		h.reset(table)
		for kl := 0; kl <= 40; kl++ {
			for el := 0; el <= 140; el++ {
				for i := range buf {
					buf[i] = byte(rng.Uint32())
				}
				ks := rng.IntN(16)
				key, enc := buf[ks:ks+kl], buf[ks+kl+1:ks+kl+1+el]
				want := engine.RowHash(table, string(key), string(enc))
				if got := h.hashRun(buf, ks, kl, el); got != want {
					t.Fatalf("table %q key %d enc %d: %x, want %x", table, kl, el, got, want)
				}
				if got := h.hash(key, enc); got != want {
					t.Fatalf("hash: table %q key %d enc %d: %x, want %x", table, kl, el, got, want)
				}
			}
		}
	}
}
