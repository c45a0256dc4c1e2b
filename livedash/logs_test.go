package livedash

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

type logsAnswer struct {
	Records   []logJSON
	Truncated bool
}

func getLogs(t *testing.T, url string) (logsAnswer, int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a logsAnswer
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return a, resp.StatusCode
}

func TestLogQueries(t *testing.T) {
	ring := NewRing(keepAll(&RingOptions{Level: slog.LevelDebug}))
	l := slog.New(ring)
	for i := range 600 {
		switch {
		case i%100 == 7:
			l.Error("payment FAILED", "request_id", "pay", "card", "Visa")
		case i%2 == 0:
			l.Debug("tick", "i", i)
		default:
			l.Info("request", "request_id", "r", "path", "/Videos/42")
		}
	}
	_, srv := newTestDashboard(t, &Options{Logs: ring})
	base := srv.URL + DefaultPath + "/api/logs?"
	tests := []struct {
		query string
		n     int
		msg   string // of every record
	}{
		{"", 600, ""},
		{"limit=10", 10, ""},
		{"limit=999999", 600, ""},
		{"level=error", 6, "payment FAILED"},
		{"level=INFO&request_id=pay", 6, "payment FAILED"},
		{"request_id=r", 294, "request"},
		{"q=failed", 6, "payment FAILED"}, // the message, any ASCII case
		{"q=VISA", 6, "payment FAILED"},   // a value
		{"q=CARD", 6, "payment FAILED"},   // a key
		{"q=videos/42", 294, "request"},   // a value, any case
		{"q=nowhere", 0, ""},              // nothing
		{"level=warn&q=tick", 0, ""},      // both must hold
		{"limit=3&level=error", 3, "payment FAILED"},
	}
	for _, tt := range tests {
		a, code := getLogs(t, base+tt.query)
		if code != http.StatusOK || len(a.Records) != tt.n || a.Truncated {
			t.Errorf("%q: %d, %d records (truncated %v), want 200, %d", tt.query, code, len(a.Records), a.Truncated, tt.n)
			continue
		}
		for i, r := range a.Records {
			if tt.msg != "" && r.Msg != tt.msg {
				t.Errorf("%q: record %+v, want %q", tt.query, r, tt.msg)
				break
			}
			if i > 0 && r.Seq <= a.Records[i-1].Seq {
				t.Errorf("%q: records out of order at %d", tt.query, i)
				break
			}
		}
		// The newest matches, newest last.
		if tt.n > 0 && tt.query == "limit=3&level=error" && a.Records[2].Seq != 508 {
			t.Errorf("%q: last seq = %d, want the newest, 508", tt.query, a.Records[2].Seq)
		}
	}
	long := strings.Repeat("a", maxQueryParam+1)
	for _, q := range []string{"limit=0", "limit=-1", "limit=x", "level=loud", "q=" + long, "request_id=" + long} {
		if _, code := getLogs(t, base+q); code != http.StatusBadRequest {
			t.Errorf("%.20q: status %d, want 400", q, code)
		}
	}
}

// An answer stays within maxQueryBytes however its records escape: the
// oldest matches are left out, and the answer says so.
func TestLogQueryAnswerIsBounded(t *testing.T) {
	ring := NewRing(keepAll(nil))
	l := slog.New(ring)
	ctl := strings.Repeat("\x01", 1000) // 6 bytes each in JSON
	for range 2000 {
		l.Info("m", "a", ctl, "b", ctl, "c", ctl)
	}
	l.Info("newest")
	_, srv := newTestDashboard(t, &Options{Logs: ring})
	resp, err := http.Get(srv.URL + DefaultPath + "/api/logs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a logsAnswer
	dec := json.NewDecoder(resp.Body)
	if err := dec.Decode(&a); err != nil {
		t.Fatal(err)
	}
	size := dec.InputOffset()
	if !a.Truncated || size > maxQueryBytes+64 || size < maxQueryBytes/2 {
		t.Errorf("answer of %d bytes (truncated %v), want truncated, at most %d", size, a.Truncated, maxQueryBytes)
	}
	if n := len(a.Records); n == 0 || a.Records[n-1].Msg != "newest" {
		t.Errorf("the answer does not end with the newest record")
	}
}

// appendLog writes a record as encoding/json writes the Logs page's
// logJSON, and valid JSON whatever the record holds.
func TestAppendLogMatchesLogJSON(t *testing.T) {
	ring := NewRing(keepAll(nil))
	l := slog.New(ring).With("svc", "a\"b", "rid?", 1)
	l.Info("plain")
	l.Warn("esc \"q\" \\ \n\t\r \x00\x1f <&> \u2028\u2029 é 😀 \xff", "k\x01", "v\u2028", "request_id", "r\"1")
	l.WithGroup("g").Error("", "", "empty key", "x", []byte("\xfe\xfe"))
	l.Log(t.Context(), slog.LevelInfo+2, "odd level", "t", time.Unix(0, 0))
	es := ring.st.entries(0, 0)
	if len(es) != 4 {
		t.Fatalf("%d records kept, want 4", len(es))
	}
	for i := range es {
		checkLogJSON(t, &es[i])
	}
}

func checkLogJSON(t *testing.T, e *entry) {
	t.Helper()
	b := appendLog(nil, e)
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	var got, want logJSON
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	wb, _ := json.Marshal(toJSON(e))
	_ = json.Unmarshal(wb, &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("appendLog:\n%s\nencoding/json:\n%s", b, wb)
	}
}

func FuzzAppendLog(f *testing.F) {
	f.Add("msg", "key", "value")
	f.Add("\xff\x00", "\u2028", "\"\\")
	f.Fuzz(func(t *testing.T, msg, key, val string) {
		ring := NewRing(keepAll(nil))
		slog.New(ring).With(key, val).Info(msg, key, val, "request_id", val)
		es := ring.st.entries(0, 0)
		if len(es) != 1 {
			t.Fatalf("%d records kept, want 1", len(es))
		}
		checkLogJSON(t, &es[0])
	})
}
