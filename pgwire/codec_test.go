package pgwire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestCodecRoundTrip(t *testing.T) {
	ts := time.Date(2023, 12, 31, 23, 59, 58, 500000000, time.UTC)
	day := time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC)
	u := [16]byte{0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	tests := []struct {
		name string
		oid  uint32
		v    any
		text string
	}{
		{"int2", pgtype.Int2OID, int64(-7), "-7"},
		{"int4", pgtype.Int4OID, int64(1 << 20), "1048576"},
		{"int8", pgtype.Int8OID, int64(-1 << 40), "-1099511627776"},
		{"float4", pgtype.Float4OID, 0.5, "0.5"},
		{"float8", pgtype.Float8OID, 3.25, "3.25"},
		{"bool", pgtype.BoolOID, true, "t"},
		{"text", pgtype.TextOID, "héllo", "héllo"},
		{"varchar", pgtype.VarcharOID, "v", "v"},
		{"bpchar", pgtype.BPCharOID, "c  ", "c  "},
		{"name", pgtype.NameOID, "pg_class", "pg_class"},
		{"json", pgtype.JSONOID, `{"a":1}`, `{"a":1}`},
		{"jsonb", pgtype.JSONBOID, `{"a": 1}`, `{"a": 1}`},
		{"numeric", pgtype.NumericOID, "123.4500", "123.4500"},
		{"bytea", pgtype.ByteaOID, []byte{0, 0xff}, `\x00ff`},
		{"date", pgtype.DateOID, day, "2023-12-31"},
		{"timestamp", pgtype.TimestampOID, ts, "2023-12-31 23:59:58.5"},
		{"timestamptz", pgtype.TimestamptzOID, ts, "2023-12-31 23:59:58.5+00"},
		{"uuid", pgtype.UUIDOID, u, "a0010203-0405-0607-0809-0a0b0c0d0e0f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := EncodeValue(tt.oid, TextFormat, tt.v, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(text) != tt.text {
				t.Fatalf("text = %q, want %q", text, tt.text)
			}
			for _, format := range []int16{TextFormat, BinaryFormat} {
				enc, err := EncodeValue(tt.oid, format, tt.v, nil)
				if err != nil {
					t.Fatalf("format %d: encode: %v", format, err)
				}
				got, err := DecodeParam(tt.oid, format, enc)
				if err != nil {
					t.Fatalf("format %d: decode: %v", format, err)
				}
				if tm, ok := got.(time.Time); ok {
					if !tm.Equal(tt.v.(time.Time)) {
						t.Fatalf("format %d: %v != %v", format, tm, tt.v)
					}
					continue
				}
				if !reflect.DeepEqual(got, tt.v) {
					t.Fatalf("format %d: decoded %#v, want %#v", format, got, tt.v)
				}
			}
		})
	}
}

func TestCodecEdgeCases(t *testing.T) {
	if v, err := DecodeParam(pgtype.Int8OID, BinaryFormat, nil); v != nil || err != nil {
		t.Fatalf("NULL = %v %v", v, err)
	}
	if v, err := DecodeParam(0, TextFormat, []byte("42")); v != "42" || err != nil {
		t.Fatalf("unknown OID = %#v %v", v, err)
	}
	if v, err := DecodeParam(999999, BinaryFormat, []byte{1}); !bytes.Equal(v.([]byte), []byte{1}) || err != nil {
		t.Fatalf("unregistered OID binary = %#v %v", v, err)
	}
	for _, bad := range []struct {
		oid    uint32
		format int16
		data   []byte
	}{
		{pgtype.Int8OID, BinaryFormat, []byte{1, 2, 3}},
		{pgtype.Int4OID, TextFormat, []byte("x")},
		{pgtype.BoolOID, TextFormat, []byte("maybe")},
		{pgtype.UUIDOID, BinaryFormat, []byte{1}},
		{pgtype.JSONBOID, BinaryFormat, []byte{2, '{', '}'}},
		{pgtype.TextOID, 7, []byte("x")},
	} {
		if _, err := DecodeParam(bad.oid, bad.format, bad.data); err == nil {
			t.Errorf("DecodeParam(%d, %d, %q) succeeded", bad.oid, bad.format, bad.data)
		} else if !errors.Is(err, ErrBadParam) && !errors.Is(err, ErrBadFormatCode) {
			t.Errorf("error %v is not a pgwire sentinel", err)
		}
	}
	// Decoded values never alias the input buffer.
	buf := []byte{0xde, 0xad}
	v, _ := DecodeParam(pgtype.ByteaOID, BinaryFormat, buf)
	buf[0] = 0
	if v.([]byte)[0] != 0xde {
		t.Fatal("bytea parameter aliases the receive buffer")
	}
	// Text columns take non-string values in their text form; a numeric
	// string becomes binary numeric.
	if b, err := EncodeValue(pgtype.TextOID, TextFormat, int64(5), nil); err != nil || string(b) != "5" {
		t.Fatalf("int64 as text = %q %v", b, err)
	}
	if _, err := EncodeValue(pgtype.NumericOID, BinaryFormat, "1.5", nil); err != nil {
		t.Fatalf("numeric string as binary: %v", err)
	}
	if b, err := EncodeValue(pgtype.TextOID, TextFormat, "", nil); err != nil || b == nil {
		t.Fatalf("empty string must encode as empty, not NULL: %v %v", b, err)
	}
	if _, err := EncodeValue(pgtype.Int8OID, BinaryFormat, "not a number", nil); !errors.Is(err, ErrBadValue) {
		t.Fatalf("bad value error = %v", err)
	}
}
