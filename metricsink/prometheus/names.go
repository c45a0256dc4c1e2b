package prometheus

import (
	"strings"
	"unicode/utf8"

	"github.com/realtimeserver/observability/metricsink"
)

func snake(s string) string { return metricsink.SnakeCase(s) }

// lintName reports why the exposition name n of a family of type typ
// ("counter", "gauge", "histogram") would make `promtool check metrics`
// complain, or "" when it would not. The rules mirror promtool's linter.
func lintName(n, typ string) string {
	if n == "" {
		return "empty after mapping"
	}
	if c := n[0]; c >= '0' && c <= '9' {
		return "starts with a digit"
	}
	if typ != "counter" && strings.HasSuffix(n, "_total") {
		return `only counters may end in "_total"`
	}
	if typ != "histogram" {
		for _, suf := range [...]string{"_bucket", "_count", "_sum"} {
			if strings.HasSuffix(n, suf) {
				return "the suffix " + suf + " is reserved for histograms and summaries"
			}
		}
	}
	if strings.Contains(n, "_"+typ+"_") || strings.HasSuffix(n, "_"+typ) {
		return "the name contains its type " + typ
	}
	if unit, base, ok := metricUnit(n); ok && unit != base {
		return "use the base unit " + base + " instead of " + unit
	}
	for w := range strings.SplitSeq(n, "_") {
		for _, a := range unitAbbreviations {
			if w == a {
				return "abbreviated unit " + a + "; spell base units out (seconds, bytes)"
			}
		}
	}
	return ""
}

var units = map[string]string{
	"amperes": "amperes", "bytes": "bytes", "celsius": "celsius", "grams": "grams",
	"joules": "joules", "kelvin": "kelvin", "meters": "meters", "metres": "metres",
	"seconds": "seconds", "volts": "volts",
	"minutes": "seconds", "hours": "seconds", "days": "seconds", "weeks": "seconds",
	"kelvins": "kelvin", "fahrenheit": "celsius", "rankine": "celsius",
	"inches": "meters", "yards": "meters", "miles": "meters", "bits": "bytes",
	"calories": "joules", "pounds": "grams", "ounces": "grams",
}

var unitPrefixes = [...]string{
	"pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo",
	"kibi", "mega", "mebi", "giga", "gibi", "tera", "tebi", "peta", "pebi",
}

var unitAbbreviations = [...]string{"s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d"}

// metricUnit returns the first unit word of n and its base unit.
func metricUnit(n string) (unit, base string, ok bool) {
	for w := range strings.SplitSeq(n, "_") {
		if b, found := units[w]; found {
			return w, b, true
		}
		for _, p := range unitPrefixes {
			if strings.HasPrefix(w, p) {
				if b, found := units[w[len(p):]]; found {
					return w, b, true
				}
			}
		}
	}
	return "", "", false
}

// appendLabelValue appends v escaped as the text exposition format requires
// inside double quotes: backslash, double quote and line feed. Invalid UTF-8
// is replaced by U+FFFD.
func appendLabelValue(dst []byte, v string) []byte {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '"':
			dst = append(dst, '\\', '"')
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendHelp appends s escaped for a # HELP line (backslash and line feed),
// invalid UTF-8 replaced and at most 200 bytes of it.
func appendHelp(dst []byte, s string) []byte {
	if len(s) > 200 {
		s = s[:200]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// reservedLabel reports whether a tag key may not be used: "le" and
// "quantile" belong to histograms and summaries, names starting with "__"
// to Prometheus itself.
func reservedLabel(raw, mapped string) bool {
	return strings.HasPrefix(raw, "__") || mapped == "le" || mapped == "quantile"
}
