package main

import (
	"reflect"
	"testing"

	"github.com/heliosdb/heliosdb-lite/replication"
)

func TestParsePeers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []replication.Peer
		bad  bool
	}{
		{in: "n1=10.0.0.1:7000", want: []replication.Peer{{ID: "n1", Address: "10.0.0.1:7000"}}},
		{in: " n1=a:1 , n2=b:2,", want: []replication.Peer{{ID: "n1", Address: "a:1"}, {ID: "n2", Address: "b:2"}}},
		{in: "", bad: true},
		{in: "n1", bad: true},
		{in: "=a:1", bad: true},
		{in: "n1=", bad: true},
	} {
		got, err := parsePeers(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("parsePeers(%q): err %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if !tc.bad && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parsePeers(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
