package deliver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Observation is what a Transport saw of the request made with the
// context Observe returned: the answer's status and Retry-After, or the
// transport's error. The last request made with that context wins.
type Observation struct {
	Status     int
	RetryAfter time.Duration
	Err        error
}

type observationKey struct{}

// Observe returns ctx carrying a new Observation, which a Transport fills
// in for a request made with the returned context (or one derived from
// it). The exporters of the OpenTelemetry SDK give their caller's context
// to their requests, so that a batch's export can be classified by its
// HTTP answer, which the SDK's error alone does not carry.
func Observe(ctx context.Context) (context.Context, *Observation) {
	o := &Observation{}
	return context.WithValue(ctx, observationKey{}, o), o
}

// Result returns the Result of an attempt that returned err, with the
// status and Retry-After the Transport observed.
func (o *Observation) Result(err error) Result {
	return Result{Status: o.Status, RetryAfter: o.RetryAfter, Err: err, cause: o.Err}
}

// Transport is an http.RoundTripper that records each answer's status and
// Retry-After, or the transport's error, in the Observation of the
// request's context (see Observe). It changes nothing else.
type Transport struct {
	// Base makes the requests. Nil means a clone of
	// http.DefaultTransport made by NewTransport.
	Base *http.Transport
}

// NewTransport returns a Transport over a clone of http.DefaultTransport.
func NewTransport() *Transport {
	return &Transport{Base: http.DefaultTransport.(*http.Transport).Clone()}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.Base.RoundTrip(req)
	if o, _ := req.Context().Value(observationKey{}).(*Observation); o != nil {
		o.Status, o.RetryAfter, o.Err = 0, 0, err
		if resp != nil {
			o.Status = resp.StatusCode
			o.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	}
	return resp, err
}

// CloseIdleConnections closes the idle connections of Base.
func (t *Transport) CloseIdleConnections() { t.Base.CloseIdleConnections() }

// ParseRetryAfter reads a Retry-After header: a number of seconds (at most
// a day) or an HTTP date. It returns 0 when the header is absent, invalid
// or past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		secs = min(secs, int64(24*time.Hour/time.Second))
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// reasonText names what happened to an attempt: the status ("429 Too
// Many Requests"), or the kind of network failure ("connection refused",
// "timeout", ...). timedOut says that the attempt's own bound ended it.
func reasonText(r Result, timedOut bool) string {
	if r.Status != 0 {
		return strconv.Itoa(r.Status) + " " + http.StatusText(r.Status)
	}
	err := errors.Join(r.cause, r.Err)
	var dns *net.DNSError
	var ne net.Error
	var cert *tls.CertificateVerificationError
	var unk x509.UnknownAuthorityError
	var host x509.HostnameError
	var rec tls.RecordHeaderError
	switch {
	case err == nil:
		return "unknown"
	case errors.Is(err, errPermanent):
		return "export error"
	case timedOut, errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.As(err, &dns):
		return "host not found"
	case errors.As(err, &cert), errors.As(err, &unk), errors.As(err, &host), errors.As(err, &rec):
		return "tls error"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	}
	return "network error"
}
