package datadog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/realtimeserver/observability/internal/secret"
)

// Limits of Datadog's HTTP logs intake, used as defaults and as upper bounds.
const (
	// MaxIntakeBatchRecords is the most entries the intake accepts in one request.
	MaxIntakeBatchRecords = 1000
	// MaxIntakeBatchBytes is the largest uncompressed request body the intake accepts.
	MaxIntakeBatchBytes = 5_000_000
	// MaxIntakeRecordBytes is the largest single entry the intake keeps whole.
	MaxIntakeRecordBytes = 1_000_000
)

// Defaults applied to zero fields of Options.
const (
	DefaultSite            = "datadoghq.com"  // Options.Site
	DefaultSource          = "go"             // Options.Source
	DefaultQueueRecords    = 10_000           // Options.QueueRecords
	DefaultQueueBytes      = 8 << 20          // Options.QueueBytes
	DefaultFlushInterval   = time.Second      // Options.FlushInterval
	DefaultTimeout         = 10 * time.Second // Options.Timeout
	DefaultMaxRetryElapsed = 5 * time.Minute  // Options.MaxRetryElapsed
)

// MaxRetryAfter caps the pause a Retry-After header can impose: an intake
// asking for a longer one is retried after MaxRetryAfter (while a Flush or
// Close waits, sooner; see Handler.Flush).
const MaxRetryAfter = time.Minute

// validSites lists the Datadog sites, in the order documented by Datadog.
var validSites = [...]string{
	"datadoghq.com",
	"datadoghq.eu",
	"us3.datadoghq.com",
	"us5.datadoghq.com",
	"ap1.datadoghq.com",
	"ddog-gov.com",
}

// ValidSites returns the Datadog sites that Options.Site accepts, as a new
// slice the caller may keep and change.
func ValidSites() []string { return slices.Clone(validSites[:]) }

// IsValidSite reports whether site is one of ValidSites.
func IsValidSite(site string) bool { return slices.Contains(validSites[:], site) }

// IntakeURL returns the HTTP logs intake URL of a Datadog site,
// https://http-intake.logs.{site}/api/v2/logs. It does not check site.
func IntakeURL(site string) string { return "https://http-intake.logs." + site + "/api/v2/logs" }

// Options configures a Handler. A zero Options consists entirely of default
// values, except APIKey, which is required. New never writes to the Options
// it is given.
type Options struct {
	// APIKey is the Datadog API key, sent in the DD-API-KEY header and nowhere
	// else: it never appears in an error, in Stats or on ErrorOutput.
	// Surrounding whitespace (the newline a secret file ends with, say) is
	// trimmed; any other control character (a newline or CR inside, NUL) is
	// an error from New, which names the option but never shows the key.
	// Required; usually read from DATADOG_API_KEY.
	APIKey string

	// Site is the Datadog site, one of ValidSites. Default "datadoghq.com".
	Site string

	// URL is a full intake URL (a proxy, a test server). When set it
	// overrides Site. Default IntakeURL(Site).
	URL string

	// Service is the "service" of every entry. Default: the executable's
	// base name.
	Service string

	// Env becomes the tag env:Env. Default none.
	Env string

	// Version becomes the tag version:Version. Default none.
	Version string

	// Hostname is the "hostname" of every entry. Default os.Hostname(), and
	// no hostname field when that fails.
	Hostname string

	// Source is the "ddsource" of every entry, which selects Datadog's
	// integration pipeline. Default "go".
	Source string

	// Tags are added to ddtags after env and version, each "key:value" or a
	// bare word. A tag may not contain a comma. Default none.
	Tags []string

	// Level is the minimum level shipped, read on every Enabled call, so an
	// *slog.LevelVar changes it at run time. Default slog.LevelInfo.
	Level slog.Leveler

	// MaxBatchRecords is the most entries sent in one request, 1 to 1000.
	// Default 1000.
	MaxBatchRecords int

	// MaxBatchBytes is the largest uncompressed request body, at most
	// 5,000,000. Default 5,000,000.
	MaxBatchBytes int

	// MaxRecordBytes is the largest encoded entry. A larger one is
	// re-encoded with "truncated": true and its long strings (message,
	// attribute values) cut to MaxRecordBytes/8, or, if that is still too
	// large, without its attributes and with its message cut to fit. At most MaxBatchBytes-2 and QueueBytes. Default
	// 1,000,000, or less when MaxBatchBytes or QueueBytes require it.
	MaxRecordBytes int

	// QueueRecords bounds the entries waiting or being sent. When the queue
	// is full, new records are dropped and counted. Default 10,000.
	QueueRecords int

	// QueueBytes bounds the encoded bytes waiting or being sent, at least
	// MaxRecordBytes. The buffers holding them, with those kept for reuse,
	// take at most QueueBytes*3/2 bytes of memory; a record that does not
	// fit in either bound is dropped as queue_full. Default 8 MiB.
	QueueBytes int

	// FlushInterval is the longest a record waits in a partial batch.
	// Default 1 s.
	FlushInterval time.Duration

	// Timeout bounds each HTTP request. While a Flush or Close with a
	// deadline waits, a request is also bounded by a third of the time
	// left, so that one that hangs leaves room for a retry. Default 10 s.
	Timeout time.Duration

	// MaxRetryElapsed bounds the time spent retrying one batch (408, 429,
	// 5xx, network errors): a batch whose next attempt would come later is
	// dropped and counted as retries_exhausted, and the sender's pause
	// still applies to the next batch. Meanwhile the queue keeps filling to
	// its bounds. It applies during Flush and Close too. Default 5 min.
	MaxRetryElapsed time.Duration

	// HTTPClient sends the requests, through its Transport; redirects are
	// never followed, since they would carry the API key elsewhere. Default:
	// a client of the Handler's own, over a clone of http.DefaultTransport,
	// whose idle connections Close closes.
	HTTPClient *http.Client

	// ErrorOutput receives the handler's own diagnostics, which cannot go
	// through slog (that could loop back here): one warning when delivery
	// starts failing (the intake's host, the status or error, how many
	// records are queued), one line when it recovers (how long it was
	// down, how many records were delivered and dropped meanwhile), and a
	// hint, once, when the intake rejects the API key. Each is one line,
	// written by the sender goroutine, never while a lock is held.
	// Default os.Stderr.
	ErrorOutput io.Writer

	// ErrorJSON writes each diagnostic on ErrorOutput as one JSON object
	// with slog.JSONHandler's keys (time, level, msg, then the details),
	// for an ErrorOutput shared with JSON logs. Default false: one line of
	// text in slog.TextHandler's form.
	ErrorJSON bool

	// ErrorHandler, when not nil, receives the same diagnostics as records
	// instead of ErrorOutput (ErrorJSON is then unused): the program's
	// local console or JSON handler, so that they read as its other lines
	// do. Its Handle is called directly, whatever its level, by the sender
	// goroutine with no lock held; a panic in it is recovered. It must not
	// lead back to this handler.
	ErrorHandler slog.Handler
}

// config is Options with defaults applied and checked.
type config struct {
	apiKey          string
	url             string
	service         string
	env             string
	version         string
	hostname        string
	source          string
	ddtags          string
	level           slog.Leveler
	maxBatchRecords int
	maxBatchBytes   int
	maxRecordBytes  int
	queueRecords    int
	queueBytes      int
	flushInterval   time.Duration
	timeout         time.Duration
	maxRetryElapsed time.Duration
	client          *http.Client
	ownTransport    *http.Transport // closed by Close when the client is ours
	errorOutput     io.Writer
	errorJSON       bool
	errorHandler    slog.Handler
	intakeHost      string // the intake's host, for diagnostics
}

// CheckAPIKey reports what New would refuse in an API key: an empty key
// or one holding a control character (NUL, tab, newline, DEL, ...) once
// surrounding whitespace is trimmed. The error names DATADOG_API_KEY and
// never shows the key.
func CheckAPIKey(key string) error {
	key = strings.TrimSpace(key)
	if key == "" {
		return errors.New("DATADOG_API_KEY (Options.APIKey) is empty: set it to a Datadog API key")
	}
	if i := strings.IndexFunc(key, isControl); i >= 0 {
		return fmt.Errorf("DATADOG_API_KEY (Options.APIKey) is invalid: it holds a control character (%s) at byte %d of %d after trimming: accepted a key of printable characters, surrounding whitespace trimmed (the key is not shown)",
			controlName(rune(key[i])), i, len(key))
	}
	return nil
}

func optionError(name string, value any, accepted string) error {
	return fmt.Errorf("datadog: invalid Options.%s %v: accepted %s", name, value, accepted)
}

func newConfig(o *Options) (*config, error) {
	c := &config{
		apiKey:          o.APIKey,
		service:         o.Service,
		env:             o.Env,
		version:         o.Version,
		hostname:        o.Hostname,
		source:          o.Source,
		level:           o.Level,
		maxBatchRecords: o.MaxBatchRecords,
		maxBatchBytes:   o.MaxBatchBytes,
		maxRecordBytes:  o.MaxRecordBytes,
		queueRecords:    o.QueueRecords,
		queueBytes:      o.QueueBytes,
		flushInterval:   o.FlushInterval,
		timeout:         o.Timeout,
		maxRetryElapsed: o.MaxRetryElapsed,
		client:          o.HTTPClient,
		errorOutput:     o.ErrorOutput,
		errorJSON:       o.ErrorJSON,
		errorHandler:    o.ErrorHandler,
	}
	c.apiKey = strings.TrimSpace(c.apiKey)
	if err := CheckAPIKey(c.apiKey); err != nil {
		return nil, fmt.Errorf("datadog: %w", err)
	}
	if o.URL != "" {
		u, err := url.Parse(o.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, optionError("URL", redact(fmt.Sprintf("%q", o.URL), c.apiKey), "an absolute http or https URL")
		}
		c.url = o.URL
	} else {
		site := o.Site
		if site == "" {
			site = DefaultSite
		}
		if !IsValidSite(site) {
			return nil, optionError("Site", redact(fmt.Sprintf("%q", site), c.apiKey), "one of "+strings.Join(validSites[:], ", "))
		}
		c.url = IntakeURL(site)
	}
	if c.service == "" {
		if exe, err := os.Executable(); err == nil {
			c.service = filepath.Base(exe)
		} else if len(os.Args) > 0 {
			c.service = filepath.Base(os.Args[0])
		}
	}
	if c.hostname == "" {
		c.hostname, _ = os.Hostname()
	}
	if c.source == "" {
		c.source = DefaultSource
	}
	var tags []string
	if o.Env != "" {
		tags = append(tags, "env:"+o.Env)
	}
	if o.Version != "" {
		tags = append(tags, "version:"+o.Version)
	}
	for _, t := range o.Tags {
		switch {
		case t == "":
			return nil, optionError("Tags", `""`, "non-empty tags")
		case strings.Contains(t, ","):
			return nil, optionError("Tags", fmt.Sprintf("%q", t), "tags without commas")
		}
		tags = append(tags, t)
	}
	if strings.Contains(o.Env, ",") {
		return nil, optionError("Env", fmt.Sprintf("%q", o.Env), "a value without commas")
	}
	if strings.Contains(o.Version, ",") {
		return nil, optionError("Version", fmt.Sprintf("%q", o.Version), "a value without commas")
	}
	c.ddtags = strings.Join(tags, ",")
	if c.level == nil {
		c.level = slog.LevelInfo
	}

	type intOpt struct {
		name     string
		p        *int
		def, min int
		max      int
	}
	ints := []intOpt{
		{"MaxBatchRecords", &c.maxBatchRecords, MaxIntakeBatchRecords, 1, MaxIntakeBatchRecords},
		{"MaxBatchBytes", &c.maxBatchBytes, MaxIntakeBatchBytes, 1024, MaxIntakeBatchBytes},
		{"MaxRecordBytes", &c.maxRecordBytes, MaxIntakeRecordBytes, 256, MaxIntakeRecordBytes},
		{"QueueRecords", &c.queueRecords, DefaultQueueRecords, 1, 1 << 30},
		{"QueueBytes", &c.queueBytes, DefaultQueueBytes, 256, 1 << 40},
	}
	if c.maxRecordBytes == 0 { // the default fits whatever bounds were given
		c.maxRecordBytes = MaxIntakeRecordBytes
		if c.maxBatchBytes > 0 {
			c.maxRecordBytes = min(c.maxRecordBytes, c.maxBatchBytes-2)
		}
		if c.queueBytes > 0 {
			c.maxRecordBytes = min(c.maxRecordBytes, c.queueBytes)
		}
	}
	for _, opt := range ints {
		if *opt.p == 0 {
			*opt.p = opt.def
		}
		if *opt.p < opt.min || *opt.p > opt.max {
			return nil, optionError(opt.name, *opt.p, fmt.Sprintf("0 (the default, %d) or %d to %d", opt.def, opt.min, opt.max))
		}
	}
	if c.maxRecordBytes > c.maxBatchBytes-2 {
		return nil, optionError("MaxRecordBytes", c.maxRecordBytes, fmt.Sprintf("at most MaxBatchBytes-2 (%d)", c.maxBatchBytes-2))
	}
	if c.maxRecordBytes > c.queueBytes {
		return nil, optionError("QueueBytes", c.queueBytes, fmt.Sprintf("at least MaxRecordBytes (%d)", c.maxRecordBytes))
	}

	durs := []struct {
		name string
		p    *time.Duration
		def  time.Duration
	}{
		{"FlushInterval", &c.flushInterval, DefaultFlushInterval},
		{"Timeout", &c.timeout, DefaultTimeout},
		{"MaxRetryElapsed", &c.maxRetryElapsed, DefaultMaxRetryElapsed},
	}
	for _, d := range durs {
		if *d.p == 0 {
			*d.p = d.def
		}
		if *d.p < 0 {
			return nil, optionError(d.name, *d.p, "a positive duration, or 0 for the default")
		}
	}

	if c.client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 4
		c.ownTransport = t
		c.client = &http.Client{Transport: t}
	} else {
		cl := *c.client // a shallow copy: the caller's Client is not changed
		c.client = &cl
	}
	// A redirect would carry the DD-API-KEY header to wherever it points;
	// the intake does not redirect, so a 3xx answer counts as a rejection.
	c.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.errorOutput == nil {
		c.errorOutput = os.Stderr
	}
	if u, err := url.Parse(c.url); err == nil {
		c.intakeHost = u.Host
	}
	return c, nil
}

// isControl reports whether r is an ASCII control character, which no
// HTTP header value may hold (a tab may, but not in an API key).
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// controlName names a control character without quoting the key around it.
func controlName(r rune) string {
	switch r {
	case '\n':
		return `a newline, \n`
	case '\r':
		return `a carriage return, \r`
	case 0:
		return "NUL"
	case '\t':
		return `a tab, \t`
	}
	return fmt.Sprintf("U+%04X", r)
}

// redact keeps the API key, in every form secret.Scrubber knows, out of
// s: errors quote URLs and sites, which a careless configuration could
// give the key.
func redact(s, key string) string { return secret.New([]string{key}, nil).Scrub(s) }
