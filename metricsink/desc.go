package metricsink

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// Kind is the kind of a metric: Counter, Gauge or Histogram. A name has one
// kind in every backend: the first use (or declaration) wins, and samples
// of another kind are dropped and counted (reason type_clash).
type Kind uint8

// The kinds. Increment and CounterFunc record counters, Gauge and GaugeFunc
// gauges, Histogram and Duration histograms.
const (
	Counter Kind = iota + 1
	Gauge
	Histogram
)

// String returns "counter", "gauge" or "histogram", and "" for a value
// that is not a Kind.
func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Histogram:
		return "histogram"
	}
	return ""
}

// Desc declares a metric: its kind, help text, unit and, for histograms,
// bucket upper bounds. Declaring is optional: an undeclared name works as
// well, with a generic help text and the backend's default buckets.
//
// Backends honour a Desc as follows. Prometheus: Help is the # HELP line,
// Unit is appended to the exposed name ("http.request.duration" with Unit
// "seconds" is exposed as http_request_duration_seconds, then "_total" for
// counters) and Buckets are the histogram's. DogStatsD: the kind, and
// Distribution, which keeps a histogram a distribution when the sink
// sends Agent histograms (its Options.AgentHistograms).
type Desc struct {
	// Name is the metric's name, as given to the Sink methods
	// ("comments.created").
	Name string
	// Kind is Counter, Gauge or Histogram. Required.
	Kind Kind
	// Help says what the metric measures, in one sentence. Default: a
	// generic text naming the metric.
	Help string
	// Unit is the base unit of the values, snake_case and plural
	// ("seconds", "bytes"); "" for a count of things. Durations recorded
	// with Duration need "seconds" (or ""), which is then implied. Default:
	// none.
	Unit string
	// Buckets are a histogram's bucket upper bounds, finite and strictly
	// increasing. Only for Histogram. Default: the backend's (durations:
	// seconds from 5 ms to 10 s).
	Buckets []float64
	// Distribution makes DogStatsD send a histogram as a distribution
	// (aggregated by Datadog across hosts) even when the DogStatsD sink
	// keeps histograms aggregated per host by the Agent
	// (Options.AgentHistograms). Default: false, the sink's choice, which
	// is distributions unless AgentHistograms is set.
	Distribution bool
}

// Validate reports what is wrong with d, or nil.
func (d Desc) Validate() error {
	if len(d.Name) > 255 {
		return fmt.Errorf("metricsink: Desc.Name of %d bytes; at most 255 are accepted", len(d.Name))
	}
	if SnakeCase(d.Name) == "" {
		return fmt.Errorf("metricsink: Desc.Name %q has no letter or digit", d.Name)
	}
	if d.Kind.String() == "" {
		return fmt.Errorf("metricsink: Desc %q: Kind %d is not Counter, Gauge or Histogram", d.Name, d.Kind)
	}
	if d.Unit != "" && SnakeCase(d.Unit) != d.Unit {
		return fmt.Errorf("metricsink: Desc %q: Unit %q is not a snake_case word such as \"seconds\" or \"bytes\"", d.Name, d.Unit)
	}
	if !utf8.ValidString(d.Help) || len(d.Help) > 1024 {
		return fmt.Errorf("metricsink: Desc %q: Help must be valid UTF-8 of at most 1024 bytes", d.Name)
	}
	if len(d.Buckets) > 0 && d.Kind != Histogram {
		return fmt.Errorf("metricsink: Desc %q: Buckets given for a %s; only histograms have buckets", d.Name, d.Kind)
	}
	if len(d.Buckets) > 256 {
		return fmt.Errorf("metricsink: Desc %q: %d buckets; at most 256 are accepted", d.Name, len(d.Buckets))
	}
	for i, b := range d.Buckets {
		if math.IsNaN(b) || math.IsInf(b, 0) || (i > 0 && b <= d.Buckets[i-1]) {
			return fmt.Errorf("metricsink: Desc %q: Buckets %v: want finite upper bounds in strictly increasing order (+Inf is implied)", d.Name, d.Buckets)
		}
	}
	return nil
}

// Declarer is implemented by sinks that honour declarations. Declare
// records d for d.Name; it returns an error when d is invalid or when the
// name is already in use with another kind, unit or buckets (declaring the
// same Desc again is not an error). Use the package function Declare, which
// accepts any Sink.
type Declarer interface {
	Declare(d Desc) error
}

// Declare declares d on s when s is a Declarer (a Fanout declares it on
// each of its sinks that is one) and returns its error; for another sink it
// only validates d. Declare metrics before recording them: the first use
// of a name fixes its kind.
func Declare(s Sink, d Desc) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if dc, ok := s.(Declarer); ok {
		return dc.Declare(d)
	}
	return nil
}

// SnakeCase returns the canonical form of a metric name or tag key, which
// every backend uses to decide that two spellings are one metric: ASCII
// letters are lower-cased, an underscore goes before an upper-case letter
// that follows a lower-case letter or a digit, ASCII digits are kept, and
// every other byte (dots, dashes, colons, spaces, underscores, non-ASCII
// bytes) is a separator. Runs of separators become one underscore and
// separators at either end are dropped. So "comments.created",
// "comments_created" and "commentsCreated" are one metric, of one kind.
func SnakeCase(s string) string { return string(AppendSnakeCase(nil, s)) }

// AppendSnakeCase appends SnakeCase(s) to dst.
func AppendSnakeCase(dst []byte, s string) []byte {
	start := len(dst)
	prevLowerOrDigit := false
	pending := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			if pending && len(dst) > start {
				dst = append(dst, '_')
			}
			pending = false
			dst = append(dst, c)
			prevLowerOrDigit = true
		case 'A' <= c && c <= 'Z':
			if (pending || prevLowerOrDigit) && len(dst) > start {
				dst = append(dst, '_')
			}
			pending = false
			dst = append(dst, c+('a'-'A'))
			prevLowerOrDigit = false
		default:
			pending = true
			prevLowerOrDigit = false
		}
	}
	return dst
}
