package pgwire

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Format codes of the extended protocol.
const (
	TextFormat   int16 = 0
	BinaryFormat int16 = 1
)

// codec converts between wire bytes and the Go values the Session sees. It
// wraps a pgtype.Map, which memoizes plans and is therefore not safe for
// concurrent use: each connection owns one, and the exported package
// functions borrow one from codecPool.
type codec struct {
	m *pgtype.Map
}

func newCodec() *codec { return &codec{m: pgtype.NewMap()} }

var codecPool = sync.Pool{New: func() any { return newCodec() }}

// DecodeParam decodes one Bind parameter of type oid sent in format (0 text,
// 1 binary) into the Go value a Statement receives:
//
//	int2, int4, int8             int64
//	float4, float8               float64
//	bool                         bool
//	text, varchar, bpchar, name,
//	json, jsonb, numeric, unknown string (numeric in its text form)
//	bytea                        []byte
//	date, timestamp, timestamptz time.Time (in UTC), or string for the
//	                             special text values (now, today, infinity...)
//	uuid                         [16]byte
//
// Other registered types decode to whatever pgtype's codec produces; an
// unregistered OID decodes to string (text) or []byte (binary). nil data is
// SQL NULL and decodes to nil. The result never aliases data.
func DecodeParam(oid uint32, format int16, data []byte) (any, error) {
	c := codecPool.Get().(*codec)
	defer codecPool.Put(c)
	return c.decode(oid, format, data)
}

// EncodeValue appends the wire form of v (a value as documented on Result.Rows)
// for a column of type oid in format to buf and returns the extended buffer.
// A nil v is NULL and returns (nil, nil): the caller writes length -1.
func EncodeValue(oid uint32, format int16, v any, buf []byte) ([]byte, error) {
	c := codecPool.Get().(*codec)
	defer codecPool.Put(c)
	return c.encode(oid, format, v, buf)
}

func (c *codec) decode(oid uint32, format int16, data []byte) (any, error) {
	if data == nil {
		return nil, nil
	}
	if format != TextFormat && format != BinaryFormat {
		return nil, fmt.Errorf("%w: %d", ErrBadFormatCode, format)
	}
	var err error
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		var v int64
		if err = c.m.Scan(oid, format, data, &v); err == nil {
			return v, nil
		}
	case pgtype.Float4OID, pgtype.Float8OID:
		var v float64
		if err = c.m.Scan(oid, format, data, &v); err == nil {
			return v, nil
		}
	case pgtype.BoolOID:
		var v bool
		if err = c.m.Scan(oid, format, data, &v); err == nil {
			return v, nil
		}
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UnknownOID, pgtype.JSONOID:
		// In both formats these are the UTF-8 text itself.
		return string(data), nil
	case pgtype.JSONBOID:
		if format == BinaryFormat {
			// Binary jsonb is a version byte (1) followed by the text.
			if len(data) == 0 || data[0] != 1 {
				return nil, fmt.Errorf("%w: jsonb binary version", ErrBadParam)
			}
			return string(data[1:]), nil
		}
		return string(data), nil
	case pgtype.NumericOID:
		if format == TextFormat {
			return string(data), nil
		}
		var n pgtype.Numeric
		if err = c.m.Scan(oid, format, data, &n); err == nil {
			var s any
			if s, err = n.Value(); err == nil {
				if str, ok := s.(string); ok {
					return str, nil
				}
				err = fmt.Errorf("%w: numeric is NULL", ErrBadParam)
			}
		}
	case pgtype.ByteaOID:
		var v []byte
		if err = c.m.Scan(oid, format, data, &v); err == nil {
			if v == nil {
				v = []byte{}
			}
			// Binary bytea scans alias data, which the reader reuses.
			return append([]byte(nil), v...), nil
		}
	case pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		if format == TextFormat {
			if isSpecialDatetime(data) {
				return string(data), nil
			}
			t, perr := parseDateTimeText(oid, string(data))
			if perr != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadParam, perr)
			}
			return t, nil
		}
		var v time.Time
		if err = c.m.Scan(oid, format, data, &v); err == nil {
			return v, nil
		}
	case pgtype.UUIDOID:
		var v pgtype.UUID
		if err = c.m.Scan(oid, format, data, &v); err == nil {
			return v.Bytes, nil
		}
	default:
		t, ok := c.m.TypeForOID(oid)
		if !ok {
			if format == TextFormat {
				return string(data), nil
			}
			return append([]byte(nil), data...), nil
		}
		var v any
		if v, err = t.Codec.DecodeValue(c.m, oid, format, data); err == nil {
			if b, ok := v.([]byte); ok {
				v = append([]byte(nil), b...)
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("%w: type %d format %d: %w", ErrBadParam, oid, format, err)
}

func (c *codec) encode(oid uint32, format int16, v any, buf []byte) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	out, err := c.encodeValue(oid, format, v, buf)
	switch {
	case err == errNullValue:
		return nil, nil
	case err == nil && out == nil:
		// A nil slice means NULL to callers; an empty value must stay
		// distinguishable from it.
		out = []byte{}
	}
	return out, err
}

func (c *codec) encodeValue(oid uint32, format int16, v any, buf []byte) ([]byte, error) {
	if format != TextFormat && format != BinaryFormat {
		return nil, fmt.Errorf("%w: %d", ErrBadFormatCode, format)
	}
	// Text-like columns take any Go value in its natural text form, so a
	// Session may hand back an int64 for a text column without ceremony.
	if format == TextFormat {
		switch oid {
		case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UnknownOID, pgtype.JSONOID, pgtype.JSONBOID:
			if s, ok := v.(string); ok {
				return append(buf, s...), nil
			}
		}
	}
	if format == TextFormat {
		switch oid {
		case pgtype.Float8OID, pgtype.Float4OID:
			bits := 64
			if oid == pgtype.Float4OID {
				bits = 32
			}
			switch x := v.(type) {
			case float64:
				return AppendFloat(buf, x, bits), nil
			case float32:
				return AppendFloat(buf, float64(x), bits), nil
			}
		case pgtype.DateOID:
			if s, ok := v.(string); ok {
				return append(buf, s...), nil
			}
			if t, ok := timeText(v); ok {
				return appendDateText(buf, t), nil
			}
		case pgtype.TimestampOID, pgtype.TimestamptzOID:
			if s, ok := v.(string); ok {
				return append(buf, s...), nil
			}
			if t, ok := timeText(v); ok {
				return appendTimestampText(buf, t, oid == pgtype.TimestamptzOID), nil
			}
		}
	}
	if _, ok := c.m.TypeForOID(oid); !ok {
		// An OID pgtype does not know: text is the only form we can produce.
		return appendText(buf, v), nil
	}
	out, err := c.m.Encode(oid, format, v, buf)
	if err == nil {
		if out == nil {
			return nil, errNullValue
		}
		return out, nil
	}
	// A value in its text form (numeric as string, a timestamp as text)
	// still becomes binary: parse it through the type's codec first.
	if s, ok := v.(string); ok {
		t, _ := c.m.TypeForOID(oid)
		native, derr := t.Codec.DecodeValue(c.m, oid, TextFormat, []byte(s))
		if derr == nil && native != nil {
			if out, err2 := c.m.Encode(oid, format, native, buf); err2 == nil {
				return out, nil
			}
		}
	}
	if format == TextFormat {
		return appendText(buf, v), nil
	}
	return nil, fmt.Errorf("%w: %T as type %d format %d: %w", ErrBadValue, v, oid, format, err)
}

// appendText is the last-resort text form of a value.
func appendText(buf []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(buf, x...)
	case []byte:
		return append(buf, x...)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case float64:
		return AppendFloat(buf, x, 64)
	case bool:
		if x {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case fmt.Stringer:
		return append(buf, x.String()...)
	default:
		return fmt.Append(buf, v)
	}
}
