package sql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// interval is PostgreSQL's interval: months, days and microseconds kept
// apart because their lengths vary.
type interval struct {
	months int64
	days   int64
	us     int64
}

const usPerDay = 86400 * 1000000

func tsTime(ts engine.Timestamp) time.Time { return time.UnixMicro(int64(ts)).UTC() }
func timeTS(t time.Time) engine.Timestamp  { return engine.Timestamp(t.UnixMicro()) }
func dateTime(d engine.Date) time.Time     { return time.Unix(int64(d)*86400, 0).UTC() }
func timeDate(t time.Time) engine.Date {
	y, m, d := t.Date()
	return engine.Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

var tsLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04Z07:00",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006-01-02 15:04:05.999999999 MST",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999 Z07:00",
	"2006-01-02 15:04:05.999999999 Z07",
	"2006-01-02 Z07:00",
	"2006-01-02 Z07",
	"Jan 2 2006 15:04:05",
	"January 2, 2006",
	time.RFC1123Z,
}

func parseTimestamp(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "now":
		return now, nil
	case "today":
		return now.Truncate(24 * time.Hour), nil
	case "tomorrow":
		return now.Truncate(24 * time.Hour).Add(24 * time.Hour), nil
	case "yesterday":
		return now.Truncate(24 * time.Hour).Add(-24 * time.Hour), nil
	case "epoch":
		return time.Unix(0, 0).UTC(), nil
	case "infinity", "-infinity":
		return time.Time{}, errorf(codeFeature, "infinite timestamps are not supported")
	}
	u := strings.TrimSuffix(strings.TrimSuffix(s, " UTC"), " utc")
	if strings.HasSuffix(s, "+00") || strings.HasSuffix(s, "Z") {
		u = s
	}
	for _, l := range tsLayouts {
		if t, err := time.Parse(l, u); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errorf(codeInvalidDatetime, "invalid input syntax for type timestamp: %q", s)
}

func formatTimestamp(ts engine.Timestamp, tz bool) string {
	t := tsTime(ts)
	s := t.Format("2006-01-02 15:04:05.999999")
	if tz {
		s += "+00"
	}
	return s
}

// parseInterval accepts PostgreSQL's verbose format ("1 day 02:00:00",
// "3 hours", "-1 mons"), plain numbers of seconds, and ISO 8601 "P1DT2H".
func parseInterval(s string) (interval, error) {
	orig := s
	s = strings.ToLower(strings.TrimSpace(s))
	bad := errorf(codeInvalidDatetime, "invalid input syntax for type interval: %q", orig)
	if s == "" {
		return interval{}, bad
	}
	if strings.HasPrefix(s, "p") {
		return parseISOInterval(s, bad)
	}
	ago := false
	if strings.HasSuffix(s, " ago") {
		ago = true
		s = strings.TrimSuffix(s, " ago")
	}
	s = strings.TrimPrefix(s, "@")
	var iv interval
	f := strings.Fields(s)
	for i := 0; i < len(f); i++ {
		tok := f[i]
		if strings.Contains(tok, ":") {
			neg := strings.HasPrefix(tok, "-")
			tok = strings.TrimLeft(tok, "+-")
			parts := strings.Split(tok, ":")
			var h, m int64
			var sec float64
			var err error
			if h, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
				return interval{}, bad
			}
			if len(parts) > 1 {
				if m, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
					return interval{}, bad
				}
			}
			if len(parts) > 2 {
				if sec, err = strconv.ParseFloat(parts[2], 64); err != nil {
					return interval{}, bad
				}
			}
			us := h*3600e6 + m*60e6 + int64(math.Round(sec*1e6))
			if neg {
				us = -us
			}
			iv.us += us
			continue
		}
		num, err := strconv.ParseFloat(tok, 64)
		unit := ""
		if err != nil {
			// "3days" style: split digits from unit.
			j := strings.IndexFunc(tok, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' && r != '+' })
			if j <= 0 {
				return interval{}, bad
			}
			if num, err = strconv.ParseFloat(tok[:j], 64); err != nil {
				return interval{}, bad
			}
			unit = tok[j:]
		} else if i+1 < len(f) {
			unit = f[i+1]
			i++
		} else {
			unit = "second"
		}
		unit = strings.TrimSuffix(unit, ",")
		switch {
		case strings.HasPrefix(unit, "y"):
			iv.months += int64(num * 12)
		case strings.HasPrefix(unit, "mon"):
			iv.months += int64(num)
			iv.days += int64((num - math.Trunc(num)) * 30)
		case strings.HasPrefix(unit, "w"):
			iv.days += int64(num * 7)
		case strings.HasPrefix(unit, "d"):
			iv.days += int64(num)
			iv.us += int64((num - math.Trunc(num)) * usPerDay)
		case strings.HasPrefix(unit, "h"):
			iv.us += int64(math.Round(num * 3600e6))
		case strings.HasPrefix(unit, "mi") && !strings.HasPrefix(unit, "mil") && !strings.HasPrefix(unit, "mic") || unit == "m":
			iv.us += int64(math.Round(num * 60e6))
		case strings.HasPrefix(unit, "s"):
			iv.us += int64(math.Round(num * 1e6))
		case strings.HasPrefix(unit, "ms") || strings.HasPrefix(unit, "mil"):
			iv.us += int64(math.Round(num * 1e3))
		case strings.HasPrefix(unit, "us") || strings.HasPrefix(unit, "mic"):
			iv.us += int64(num)
		case strings.HasPrefix(unit, "c"):
			iv.months += int64(num * 1200)
		case strings.HasPrefix(unit, "dec"):
			iv.months += int64(num * 120)
		default:
			return interval{}, bad
		}
	}
	if ago {
		iv = interval{-iv.months, -iv.days, -iv.us}
	}
	return iv, nil
}

func parseISOInterval(s string, bad error) (interval, error) {
	var iv interval
	timePart := false
	num := ""
	for _, r := range s[1:] {
		switch {
		case r == 't':
			timePart = true
		case r >= '0' && r <= '9' || r == '.' || r == '-':
			num += string(r)
		default:
			n, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return interval{}, bad
			}
			num = ""
			switch {
			case r == 'y':
				iv.months += int64(n * 12)
			case r == 'm' && !timePart:
				iv.months += int64(n)
			case r == 'w':
				iv.days += int64(n * 7)
			case r == 'd':
				iv.days += int64(n)
			case r == 'h':
				iv.us += int64(n * 3600e6)
			case r == 'm':
				iv.us += int64(n * 60e6)
			case r == 's':
				iv.us += int64(n * 1e6)
			default:
				return interval{}, bad
			}
		}
	}
	return iv, nil
}

func (iv interval) String() string {
	var parts []string
	plural := func(n int64, unit string) string {
		if n == 1 || n == -1 {
			return fmt.Sprintf("%d %s", n, unit)
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	if y := iv.months / 12; y != 0 {
		parts = append(parts, plural(y, "year"))
	}
	if m := iv.months % 12; m != 0 {
		parts = append(parts, plural(m, "mon"))
	}
	if iv.days != 0 {
		parts = append(parts, plural(iv.days, "day"))
	}
	if iv.us != 0 || len(parts) == 0 {
		us := iv.us
		sign := ""
		if us < 0 {
			sign = "-"
			us = -us
		}
		h := us / 3600e6
		m := us / 60e6 % 60
		sec := us % 60e6
		s := fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, sec/1e6)
		if frac := sec % 1e6; frac != 0 {
			s += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func (iv interval) cmpKey() float64 {
	return float64(iv.months)*30*usPerDay + float64(iv.days)*usPerDay + float64(iv.us)
}

func addInterval(t time.Time, iv interval, sign int64) time.Time {
	if m := sign * iv.months; m != 0 {
		// Month arithmetic clamps to the last day of the month, as in
		// PostgreSQL ('2024-01-31' + 1 month = '2024-02-29').
		y, mo, d := t.Date()
		total := int64(y)*12 + int64(mo-1) + m
		ny, nm := int(total/12), time.Month(total%12+1)
		last := time.Date(ny, nm+1, 0, 0, 0, 0, 0, time.UTC).Day()
		d = min(d, last)
		h, mi, sec := t.Clock()
		t = time.Date(ny, nm, d, h, mi, sec, t.Nanosecond(), time.UTC)
	}
	t = t.AddDate(0, 0, int(sign*iv.days))
	return t.Add(time.Duration(sign*iv.us) * time.Microsecond)
}

func dateTrunc(field string, t time.Time) (time.Time, error) {
	y, mo, d := t.Date()
	switch strings.ToLower(field) {
	case "microseconds":
		return t, nil
	case "milliseconds":
		return t.Truncate(time.Millisecond), nil
	case "second":
		return t.Truncate(time.Second), nil
	case "minute":
		return t.Truncate(time.Minute), nil
	case "hour":
		return t.Truncate(time.Hour), nil
	case "day":
		return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC), nil
	case "week":
		wd := (int(t.Weekday()) + 6) % 7
		return time.Date(y, mo, d-wd, 0, 0, 0, 0, time.UTC), nil
	case "month":
		return time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC), nil
	case "quarter":
		return time.Date(y, ((mo-1)/3)*3+1, 1, 0, 0, 0, 0, time.UTC), nil
	case "year":
		return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), nil
	case "decade":
		return time.Date(y-y%10, 1, 1, 0, 0, 0, 0, time.UTC), nil
	case "century":
		return time.Date((y-1)/100*100+1, 1, 1, 0, 0, 0, 0, time.UTC), nil
	}
	return t, errorf(codeInvalidParam, "unit %q not recognized for type timestamp", field)
}

func extractField(field string, t time.Time) (float64, error) {
	switch strings.ToLower(field) {
	case "year", "years":
		return float64(t.Year()), nil
	case "month", "months":
		return float64(t.Month()), nil
	case "day", "days":
		return float64(t.Day()), nil
	case "hour", "hours":
		return float64(t.Hour()), nil
	case "minute", "minutes":
		return float64(t.Minute()), nil
	case "second", "seconds":
		return float64(t.Second()) + float64(t.Nanosecond())/1e9, nil
	case "milliseconds":
		return float64(t.Second())*1000 + float64(t.Nanosecond())/1e6, nil
	case "microseconds":
		return float64(t.Second())*1e6 + float64(t.Nanosecond()/1000), nil
	case "dow":
		return float64(t.Weekday()), nil
	case "isodow":
		return float64((int(t.Weekday())+6)%7 + 1), nil
	case "doy":
		return float64(t.YearDay()), nil
	case "week":
		_, w := t.ISOWeek()
		return float64(w), nil
	case "quarter":
		return float64((int(t.Month())-1)/3 + 1), nil
	case "epoch":
		return float64(t.UnixMicro()) / 1e6, nil
	case "decade":
		return float64(t.Year() / 10), nil
	case "century":
		return float64((t.Year()-1)/100 + 1), nil
	case "millennium":
		return float64((t.Year()-1)/1000 + 1), nil
	case "timezone", "timezone_hour", "timezone_minute":
		return 0, nil
	case "julian":
		return float64(t.Unix()/86400 + 2440588), nil
	}
	return 0, errorf(codeInvalidParam, "unit %q not recognized for type timestamp", field)
}

func extractInterval(field string, iv interval) (float64, error) {
	switch strings.ToLower(field) {
	case "epoch":
		return iv.cmpKey() / 1e6, nil
	case "year", "years":
		return float64(iv.months / 12), nil
	case "month", "months":
		return float64(iv.months % 12), nil
	case "day", "days":
		return float64(iv.days), nil
	case "hour", "hours":
		return float64(iv.us / 3600e6), nil
	case "minute", "minutes":
		return float64(iv.us / 60e6 % 60), nil
	case "second", "seconds":
		return float64(iv.us%60e6) / 1e6, nil
	}
	return 0, errorf(codeInvalidParam, "unit %q not recognized for type interval", field)
}

// toChar implements the common to_char patterns for timestamps.
func toChar(t time.Time, pat string) string {
	repl := []struct{ p, layout string }{
		{"YYYY", "2006"}, {"YY", "06"}, {"MONTH", "January"}, {"Month", "January"}, {"MON", "Jan"}, {"Mon", "Jan"},
		{"MM", "01"}, {"DDD", "002"}, {"DD", "02"}, {"HH24", "15"}, {"HH12", "03"}, {"HH", "03"}, {"MI", "04"},
		{"SS", "05"}, {"MS", "000"}, {"US", "000000"}, {"AM", "PM"}, {"PM", "PM"}, {"DAY", "Monday"}, {"Day", "Monday"},
		{"DY", "Mon"}, {"Dy", "Mon"}, {"TZ", "MST"},
	}
	var b strings.Builder
	for i := 0; i < len(pat); {
		matched := false
		for _, r := range repl {
			if strings.HasPrefix(pat[i:], r.p) {
				s := t.Format(r.layout)
				switch r.p {
				case "MONTH", "DAY", "MON", "DY":
					s = strings.ToUpper(s)
				case "MS":
					s = fmt.Sprintf("%03d", t.Nanosecond()/1e6)
				case "US":
					s = fmt.Sprintf("%06d", t.Nanosecond()/1e3)
				case "DDD":
					s = fmt.Sprintf("%03d", t.YearDay())
				}
				if r.p == "MONTH" || r.p == "Month" {
					s = fmt.Sprintf("%-9s", s)
				}
				b.WriteString(s)
				i += len(r.p)
				matched = true
				break
			}
		}
		if !matched {
			b.WriteByte(pat[i])
			i++
		}
	}
	return b.String()
}
