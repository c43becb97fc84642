package pgwire

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// PostgreSQL's text forms of date, timestamp and timestamptz differ from
// pgtype's: the server (DateStyle ISO, TimeZone UTC) prints
//
//	date         2026-11-21
//	timestamp    2026-11-21 19:02:05.946
//	timestamptz  2026-11-21 19:02:05.946+00
//
// with trailing zeros of the fraction dropped, a zone offset of "+HH",
// "+HH:MM" or "+HH:MM:SS", and " BC" after years before 1. pgtype writes a
// "Z" for UTC, which psycopg2 and others reject, so this package formats
// and parses these three types itself in the text format. The binary
// format is left to pgtype.

// errBadDatetime is a text date/time parameter this package cannot read.
var errBadDatetime = errors.New("pgwire: invalid input syntax for date/time")

// appendDateText appends t's date in ISO form.
func appendDateText(buf []byte, t time.Time) []byte {
	y, m, d := t.Date()
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	buf = appendPadded(buf, y, 4)
	buf = append(buf, '-')
	buf = appendPadded(buf, int(m), 2)
	buf = append(buf, '-')
	buf = appendPadded(buf, d, 2)
	if bc {
		buf = append(buf, " BC"...)
	}
	return buf
}

// appendTimestampText appends t as PostgreSQL prints a timestamp (withZone
// false, t's wall clock) or a timestamptz (withZone true, in UTC).
func appendTimestampText(buf []byte, t time.Time, withZone bool) []byte {
	if withZone {
		t = t.UTC()
	}
	y, _, _ := t.Date()
	bc := y <= 0
	if bc {
		// Print the date without its era, then the clock, then the era.
		t = t.AddDate(1-2*y, 0, 0)
	}
	buf = appendDateText(buf, t)
	buf = append(buf, ' ')
	buf = appendPadded(buf, t.Hour(), 2)
	buf = append(buf, ':')
	buf = appendPadded(buf, t.Minute(), 2)
	buf = append(buf, ':')
	buf = appendPadded(buf, t.Second(), 2)
	if us := t.Nanosecond() / 1000; us != 0 {
		frac := []byte{'.', 0, 0, 0, 0, 0, 0}
		for i := 6; i >= 1; i-- {
			frac[i] = byte('0' + us%10)
			us /= 10
		}
		end := len(frac)
		for end > 1 && frac[end-1] == '0' {
			end--
		}
		buf = append(buf, frac[:end]...)
	}
	if withZone {
		buf = append(buf, "+00"...)
	}
	if bc {
		buf = append(buf, " BC"...)
	}
	return buf
}

func appendPadded(buf []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		buf = append(buf, '0')
	}
	return append(buf, s...)
}

// timeText converts the values a Session may return for a date/time column
// (time.Time, or pgtype's Date/Timestamp/Timestamptz) to a time.Time.
func timeText(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case pgtype.Date:
		return x.Time, x.Valid && x.InfinityModifier == pgtype.Finite
	case pgtype.Timestamp:
		return x.Time, x.Valid && x.InfinityModifier == pgtype.Finite
	case pgtype.Timestamptz:
		return x.Time, x.Valid && x.InfinityModifier == pgtype.Finite
	}
	return time.Time{}, false
}

// parseDateTimeText reads a date, timestamp or timestamptz parameter in
// the forms PostgreSQL accepts from clients: an ISO date ("2026-11-21"),
// optionally followed by a space or "T" and a time ("19:02", "19:02:05",
// "19:02:05.946"), optionally followed (with or without a space) by a zone:
// "Z", "UTC", "GMT", "+00", "+0530", "+05:30", "-08:00:00", or an IANA name
// ("Europe/Paris"); and finally an optional " BC" or " AD".
//
// A timestamp without time zone ignores the zone and keeps the wall clock,
// as PostgreSQL does. A timestamptz without a zone is read in UTC (the
// session TimeZone this server reports). A date keeps only its date.
func parseDateTimeText(oid uint32, s string) (time.Time, error) {
	orig := s
	bad := func() (time.Time, error) {
		return time.Time{}, errorfBadDatetime(oid, orig)
	}
	s = strings.TrimSpace(s)
	bc := false
	if up := strings.ToUpper(s); strings.HasSuffix(up, " BC") {
		bc, s = true, strings.TrimSpace(s[:len(s)-3])
	} else if strings.HasSuffix(up, " AD") {
		s = strings.TrimSpace(s[:len(s)-3])
	}
	year, n := leadingDigits(s)
	if n < 1 || n > 7 || len(s) < n+6 || s[n] != '-' || s[n+3] != '-' {
		return bad()
	}
	month, ok1 := atoi2(s[n+1 : n+3])
	day, ok2 := atoi2(s[n+4 : n+6])
	if !ok1 || !ok2 || month < 1 || month > 12 || day < 1 || day > 31 {
		return bad()
	}
	rest := s[n+6:]
	var hour, min, sec, nsec int
	if len(rest) > 0 && (rest[0] == ' ' || rest[0] == 'T' || rest[0] == 't') && len(rest) >= 3 && isDigit(rest[1]) {
		clock := rest[1:]
		var ok bool
		if hour, min, sec, nsec, clock, ok = parseClock(clock); !ok {
			return bad()
		}
		rest = clock
	}
	loc := time.UTC
	if z := strings.TrimSpace(rest); z != "" {
		var ok bool
		if loc, ok = parseZone(z); !ok {
			return bad()
		}
	}
	if bc {
		year = 1 - year
	}
	if oid != pgtype.TimestamptzOID {
		loc = time.UTC
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, loc)
	if t.Day() != day {
		return bad() // February 30th and the like
	}
	if oid == pgtype.DateOID {
		return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), nil
	}
	return t.UTC(), nil
}

func errorfBadDatetime(oid uint32, s string) error {
	name := "timestamp with time zone"
	switch oid {
	case pgtype.DateOID:
		name = "date"
	case pgtype.TimestampOID:
		name = "timestamp"
	}
	return &wrapped{msg: "invalid input syntax for type " + name + ": \"" + s + "\"", err: errBadDatetime}
}

// wrapped is an error with its own message and a sentinel to match.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// parseClock reads HH:MM[:SS[.fraction]] and returns the rest.
func parseClock(s string) (hour, min, sec, nsec int, rest string, ok bool) {
	if len(s) < 5 || s[2] != ':' {
		return 0, 0, 0, 0, s, false
	}
	h, ok1 := atoi2(s[0:2])
	m, ok2 := atoi2(s[3:5])
	if !ok1 || !ok2 || h > 24 || m > 59 {
		return 0, 0, 0, 0, s, false
	}
	s = s[5:]
	if len(s) >= 3 && s[0] == ':' {
		v, ok := atoi2(s[1:3])
		if !ok || v > 60 {
			return 0, 0, 0, 0, s, false
		}
		sec, s = v, s[3:]
		if len(s) >= 2 && s[0] == '.' && isDigit(s[1]) {
			_, n := leadingDigits(s[1:])
			digits := s[1 : 1+n]
			// Round to microseconds, as PostgreSQL stores them.
			frac := 0
			for i := 0; i < 9; i++ {
				frac *= 10
				if i < len(digits) {
					frac += int(digits[i] - '0')
				}
			}
			if len(digits) > 6 && digits[6] >= '5' {
				frac += 1000
			}
			nsec = frac / 1000 * 1000
			s = s[1+n:]
		}
	}
	return h, m, sec, nsec, s, true
}

// parseZone reads a zone suffix.
func parseZone(z string) (*time.Location, bool) {
	switch strings.ToUpper(z) {
	case "Z", "UTC", "GMT", "UCT", "ZULU":
		return time.UTC, true
	}
	if z[0] == '+' || z[0] == '-' {
		sign := 1
		if z[0] == '-' {
			sign = -1
		}
		digits := strings.ReplaceAll(z[1:], ":", "")
		if len(digits) == 0 || len(digits) > 6 || len(digits)%2 == 1 && len(digits) != 1 {
			return nil, false
		}
		if len(digits) == 1 {
			digits = "0" + digits
		}
		parts := [3]int{}
		for i := 0; i*2 < len(digits); i++ {
			v, ok := atoi2(digits[i*2 : i*2+2])
			if !ok {
				return nil, false
			}
			parts[i] = v
		}
		if parts[0] > 15 || parts[1] > 59 || parts[2] > 59 {
			return nil, false
		}
		off := sign * (parts[0]*3600 + parts[1]*60 + parts[2])
		if off == 0 {
			return time.UTC, true
		}
		return time.FixedZone("", off), true
	}
	if loc, err := time.LoadLocation(z); err == nil {
		return loc, true
	}
	return nil, false
}

// isSpecialDatetime reports the special input words PostgreSQL accepts for
// date/time types; they pass to the Session as text, which resolves them
// against its own clock.
func isSpecialDatetime(data []byte) bool {
	switch strings.ToLower(strings.TrimSpace(string(data))) {
	case "now", "today", "tomorrow", "yesterday", "epoch", "infinity", "-infinity", "+infinity", "allballs":
		return true
	}
	return false
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// leadingDigits parses the run of digits at the start of s.
func leadingDigits(s string) (int, int) {
	v, n := 0, 0
	for n < len(s) && isDigit(s[n]) && n < 9 {
		v = v*10 + int(s[n]-'0')
		n++
	}
	return v, n
}

func atoi2(s string) (int, bool) {
	if len(s) != 2 || !isDigit(s[0]) || !isDigit(s[1]) {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}
