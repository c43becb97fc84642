package pgwire

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestDatetimeText checks the text forms against what PostgreSQL 15 prints
// (DateStyle ISO, TimeZone UTC).
func TestDatetimeText(t *testing.T) {
	ts := time.Date(2026, 11, 21, 19, 2, 5, 946000000, time.UTC)
	for _, tt := range []struct {
		oid  uint32
		v    any
		want string
	}{
		{pgtype.TimestamptzOID, ts, "2026-11-21 19:02:05.946+00"},
		{pgtype.TimestamptzOID, ts.In(time.FixedZone("", 3600)), "2026-11-21 19:02:05.946+00"},
		{pgtype.TimestampOID, ts, "2026-11-21 19:02:05.946"},
		{pgtype.TimestampOID, ts.Truncate(time.Second), "2026-11-21 19:02:05"},
		{pgtype.TimestamptzOID, ts.Add(123 * time.Microsecond), "2026-11-21 19:02:05.946123+00"},
		{pgtype.DateOID, ts, "2026-11-21"},
		{pgtype.DateOID, time.Date(44, 3, 15, 0, 0, 0, 0, time.UTC), "0044-03-15"},
		{pgtype.DateOID, time.Date(-43, 3, 15, 0, 0, 0, 0, time.UTC), "0044-03-15 BC"},
		{pgtype.TimestampOID, time.Date(-43, 3, 15, 1, 2, 3, 0, time.UTC), "0044-03-15 01:02:03 BC"},
		{pgtype.TimestamptzOID, pgtype.Timestamptz{Time: ts, Valid: true}, "2026-11-21 19:02:05.946+00"},
	} {
		got, err := EncodeValue(tt.oid, TextFormat, tt.v, nil)
		if err != nil || string(got) != tt.want {
			t.Errorf("EncodeValue(%d, %v) = %q, %v; want %q", tt.oid, tt.v, got, err, tt.want)
		}
		if _, ok := tt.v.(time.Time); !ok {
			continue
		}
		back, err := DecodeParam(tt.oid, TextFormat, got)
		if err != nil {
			t.Errorf("DecodeParam(%q): %v", got, err)
			continue
		}
		want := tt.v.(time.Time)
		switch tt.oid {
		case pgtype.DateOID:
			y, m, d := want.Date()
			want = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		case pgtype.TimestampOID:
			want = time.Date(want.Year(), want.Month(), want.Day(), want.Hour(), want.Minute(), want.Second(), want.Nanosecond(), time.UTC)
		}
		if !back.(time.Time).Equal(want) {
			t.Errorf("round trip %q = %v, want %v", got, back, want)
		}
	}
}

// TestDatetimeParams checks the input forms drivers send (JDBC's "+00",
// ISO 8601 with "T" and "Z", offsets with and without colons).
func TestDatetimeParams(t *testing.T) {
	ms := time.Date(2026, 11, 21, 19, 2, 5, 946000000, time.UTC)
	sec := ms.Truncate(time.Second)
	for _, tt := range []struct {
		oid  uint32
		in   string
		want time.Time
	}{
		{pgtype.TimestamptzOID, "2026-11-21 19:02:05.946+00", ms},
		{pgtype.TimestamptzOID, "2026-11-21 19:02:05.946 +00", ms},
		{pgtype.TimestamptzOID, "2026-11-21 19:02:05.946+00:00", ms},
		{pgtype.TimestamptzOID, "2026-11-21T19:02:05Z", sec},
		{pgtype.TimestamptzOID, "2026-11-21T19:02:05.946Z", ms},
		{pgtype.TimestamptzOID, "2026-11-21 20:02:05.946+01", ms},
		{pgtype.TimestamptzOID, "2026-11-21 20:32:05.946+0130", ms},
		{pgtype.TimestamptzOID, "2026-11-21 14:02:05.946-05:00", ms},
		{pgtype.TimestamptzOID, "2026-11-21 19:02:05.946 UTC", ms},
		{pgtype.TimestamptzOID, "2026-11-21 19:02:05.946", ms},
		{pgtype.TimestamptzOID, "2026-11-21 19:02:05.9460004", ms},
		{pgtype.TimestamptzOID, "2026-11-21 19:02", time.Date(2026, 11, 21, 19, 2, 0, 0, time.UTC)},
		{pgtype.TimestamptzOID, "2026-11-21", time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)},
		{pgtype.TimestampOID, "2026-11-21 19:02:05.946+05", ms},
		{pgtype.TimestampOID, "2026-11-21T19:02:05.946", ms},
		{pgtype.DateOID, "2026-11-21", time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)},
		{pgtype.DateOID, "2026-11-21 +00", time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)},
		{pgtype.DateOID, "2026-11-21 +01:00", time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)},
		{pgtype.DateOID, "0044-03-15 BC", time.Date(-43, 3, 15, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := DecodeParam(tt.oid, TextFormat, []byte(tt.in))
		if err != nil {
			t.Errorf("DecodeParam(%d, %q): %v", tt.oid, tt.in, err)
			continue
		}
		if tm := got.(time.Time); !tm.Equal(tt.want) || tm.Location() != time.UTC {
			t.Errorf("DecodeParam(%d, %q) = %v, want %v", tt.oid, tt.in, tm, tt.want)
		}
	}
	for _, in := range []string{"now", "infinity", "-infinity", "today"} {
		if got, err := DecodeParam(pgtype.TimestamptzOID, TextFormat, []byte(in)); err != nil || got != in {
			t.Errorf("special %q = %#v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "x", "2026-13-01", "2026-02-30", "2026-11-21 25:00", "2026-11-21 19:02:05 +99", "2026-11-21 19:02:05 Nowhere/Zone", "2026-11-21junk"} {
		if _, err := DecodeParam(pgtype.TimestamptzOID, TextFormat, []byte(bad)); !errors.Is(err, ErrBadParam) {
			t.Errorf("DecodeParam(%q) = %v, want ErrBadParam", bad, err)
		}
	}
}
