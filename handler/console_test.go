package handler

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"golang.org/x/sys/unix"

	"github.com/realtimeserver/observability/internal/testenv"
)

// parseConsoleLine parses one colourless Console line written with
// TimeFormat time.RFC3339Nano into the map shape that slogtest expects:
// "time level message k=v k=v", values quoted when needed, dotted keys
// for groups.
func parseConsoleLine(t *testing.T, line string) map[string]any {
	t.Helper()
	toks, err := splitConsole(line)
	if err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	m := map[string]any{}
	if len(toks) > 0 {
		if ts, err := time.Parse(time.RFC3339Nano, toks[0]); err == nil {
			m[slog.TimeKey] = ts
			toks = toks[1:]
		}
	}
	if len(toks) == 0 {
		t.Fatalf("line %q: no level", line)
	}
	m[slog.LevelKey] = toks[0]
	toks = toks[1:]
	var msg []string
	for len(toks) > 0 && !strings.Contains(toks[0], "=") {
		msg = append(msg, toks[0])
		toks = toks[1:]
	}
	m[slog.MessageKey] = strings.Join(msg, " ")
	for _, tok := range toks {
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			t.Fatalf("line %q: token %q is not key=value", line, tok)
		}
		if strings.HasPrefix(v, `"`) {
			if v, err = strconv.Unquote(v); err != nil {
				t.Fatalf("line %q: value of %q: %v", line, k, err)
			}
		}
		dst := m
		path := strings.Split(k, ".")
		for _, g := range path[:len(path)-1] {
			sub, ok := dst[g].(map[string]any)
			if !ok {
				sub = map[string]any{}
				dst[g] = sub
			}
			dst = sub
		}
		dst[path[len(path)-1]] = v
	}
	return m
}

// splitConsole splits a line at spaces outside double quotes.
func splitConsole(line string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	inQuote, esc := false, false
	for _, r := range line {
		switch {
		case esc:
			esc = false
		case inQuote && r == '\\':
			esc = true
		case r == '"':
			inQuote = !inQuote
		case r == ' ' && !inQuote:
			if cur.Len() > 0 {
				toks = append(toks, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote")
	}
	if cur.Len() > 0 {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

func TestConsoleSlogtest(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return Console(&buf, &ConsoleOptions{TimeFormat: time.RFC3339Nano, NoColor: true})
	}, func(t *testing.T) map[string]any {
		line := strings.TrimSuffix(buf.String(), "\n")
		if strings.Contains(line, "\n") {
			t.Fatalf("want one line, got %q", buf.String())
		}
		return parseConsoleLine(t, line)
	})
}

func TestConsoleOutput(t *testing.T) {
	when := time.Date(2026, 11, 25, 10, 41, 7, 123456789, time.UTC)
	tests := []struct {
		name string
		opts *ConsoleOptions
		log  func(h slog.Handler) error
		want string
	}{
		{
			name: "defaults",
			opts: &ConsoleOptions{NoColor: true},
			log: func(h slog.Handler) error {
				r := slog.NewRecord(when, slog.LevelInfo, "comment created", 0)
				r.AddAttrs(slog.Int("user_id", 7), slog.String("note", "two words"))
				return h.Handle(t.Context(), r)
			},
			want: "Nov 25 10:41:07.123 INF comment created user_id=7 note=\"two words\"\n",
		},
		{
			name: "groups and attrs",
			opts: &ConsoleOptions{NoColor: true, TimeFormat: time.Kitchen},
			log: func(h slog.Handler) error {
				h = h.WithAttrs([]slog.Attr{slog.String("a", "1")}).WithGroup("http").
					WithAttrs([]slog.Attr{slog.String("method", "GET")}).WithGroup("resp")
				r := slog.NewRecord(when, slog.LevelWarn, "slow", 0)
				r.AddAttrs(slog.Int("status", 200), slog.Group("size", slog.Int("bytes", 5)))
				return h.Handle(t.Context(), r)
			},
			want: "10:41AM WRN slow a=1 http.method=GET http.resp.status=200 http.resp.size.bytes=5\n",
		},
		{
			name: "empty group omitted",
			opts: &ConsoleOptions{NoColor: true, TimeFormat: time.Kitchen},
			log: func(h slog.Handler) error {
				return h.WithGroup("g").Handle(t.Context(), slog.NewRecord(when, slog.LevelError, "boom", 0))
			},
			want: "10:41AM ERR boom\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.log(Console(&buf, tt.opts)); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestConsoleLevel(t *testing.T) {
	var lv slog.LevelVar
	var buf bytes.Buffer
	l := slog.New(Console(&buf, &ConsoleOptions{Level: &lv, NoColor: true}))
	l.Debug("hidden")
	lv.Set(slog.LevelDebug)
	l.Debug("shown")
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "DBG shown") {
		t.Errorf("got %q, want only the second Debug line", got)
	}
	buf.Reset()
	slog.New(Console(&buf, nil)).Debug("dropped by default")
	if buf.Len() != 0 {
		t.Errorf("nil options logged Debug: %q", buf.String())
	}
}

// TestConsoleReplaceAttrGroups checks that ReplaceAttr sees the group path
// of every attribute, including groups opened with WithGroup.
func TestConsoleReplaceAttrGroups(t *testing.T) {
	var mu sync.Mutex
	var got [][]string
	h := Console(io.Discard, &ConsoleOptions{NoColor: true, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == "leaf" {
			mu.Lock()
			got = append(got, slices.Clone(groups))
			mu.Unlock()
		}
		return a
	}})
	slog.New(h.WithGroup("a").WithGroup("b")).Info("m", slog.Group("c", "leaf", 1))
	want := [][]string{{"a", "b", "c"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("groups: got %v, want %v", got, want)
	}
}

// TestConsoleConcurrentClones logs from many clones at once into a writer
// that is not safe for concurrent use: the shared lock must make every
// line whole (and -race quiet).
func TestConsoleConcurrentClones(t *testing.T) {
	var buf bytes.Buffer
	root := slog.New(Console(&buf, &ConsoleOptions{NoColor: true, TimeFormat: time.RFC3339Nano}))
	const goroutines, lines = 16, 200
	// Four clones, each shared by four goroutines.
	clones := make([]*slog.Logger, 4)
	for c := range clones {
		l := root.With("worker", c)
		if c%2 == 0 {
			// Three groups: tint's own WithGroup would leave its slice of
			// group names with spare capacity here, and race on it.
			l = l.WithGroup("grp").WithGroup("sub").WithGroup("deep").With("even", true)
		}
		clones[c] = l
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		l := clones[g%len(clones)]
		wg.Go(func() {
			for i := range lines {
				l.Info("tick", "i", i, slog.Group("nested", "x", strings.Repeat("y", 100)))
			}
		})
	}
	wg.Wait()
	out := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(out) != goroutines*lines {
		t.Fatalf("got %d lines, want %d", len(out), goroutines*lines)
	}
	for _, line := range out {
		m := parseConsoleLine(t, line)
		if m[slog.MessageKey] != "tick" || m["worker"] == nil {
			t.Fatalf("torn or wrong line: %q", line)
		}
		x, _ := m["nested"].(map[string]any)
		if g, ok := m["grp"].(map[string]any); ok {
			s, _ := g["sub"].(map[string]any)
			d, _ := s["deep"].(map[string]any)
			x, _ = d["nested"].(map[string]any)
		}
		if x == nil || x["x"] != strings.Repeat("y", 100) {
			t.Fatalf("torn or wrong line: %q", line)
		}
	}
}

// openPTY returns the terminal end of a new pseudo-terminal, and its
// controlling end, from which what is written to the terminal is read.
func openPTY(t *testing.T) (tty, ptmx *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		testenv.Missing(t, "a pseudo-terminal (/dev/ptmx)", "run the tests on a system with devpts: "+err.Error())
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		testenv.Missing(t, "a pseudo-terminal (unlockpt)", err.Error())
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		testenv.Missing(t, "a pseudo-terminal (ptsname)", err.Error())
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		testenv.Missing(t, "a pseudo-terminal (/dev/pts)", "mount devpts: "+err.Error())
	}
	t.Cleanup(func() { tty.Close() })
	return tty, ptmx
}

func TestConsoleColor(t *testing.T) {
	tty, ptmx := openPTY(t)
	file, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	env := func(noColor string) func(string) string {
		return func(k string) string {
			if k == "NO_COLOR" {
				return noColor
			}
			return ""
		}
	}
	tests := []struct {
		name    string
		w       io.Writer
		noColor bool
		env     string
		want    bool
	}{
		{"terminal", tty, false, "", true},
		{"terminal, NO_COLOR=1", tty, false, "1", false},
		{"terminal, NoColor", tty, true, "", false},
		{"regular file", file, false, "", false},
		{"pipe", w, false, "", false},
		{"buffer", &bytes.Buffer{}, false, "", false},
		{"nil *os.File", (*os.File)(nil), false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := colorful(tt.w, tt.noColor, env(tt.env)); got != tt.want {
				t.Errorf("colorful = %v, want %v", got, tt.want)
			}
		})
	}

	// End to end: what reaches the terminal carries escape codes.
	t.Setenv("NO_COLOR", "")
	slog.New(Console(tty, nil)).Info("hi", "k", "v")
	ptmx.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 4096)
	n, err := ptmx.Read(got)
	if err != nil {
		t.Fatalf("reading the terminal: %v", err)
	}
	if line := string(got[:n]); !strings.Contains(line, "\x1b[") || !strings.Contains(line, "hi") {
		t.Errorf("terminal got %q, want a coloured line", line)
	}
}

func TestConsoleNoColorEnv(t *testing.T) {
	tty, _ := openPTY(t)
	t.Setenv("NO_COLOR", "")
	if !colorful(tty, false, os.Getenv) {
		t.Errorf("empty NO_COLOR turned colour off on a terminal")
	}
	t.Setenv("NO_COLOR", "1")
	if colorful(tty, false, os.Getenv) {
		t.Errorf("NO_COLOR=1 left colour on")
	}
}

// errWriter fails every Write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

func TestConsoleWriteError(t *testing.T) {
	err := Console(errWriter{}, nil).Handle(t.Context(), slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Handle error = %v, want the writer's", err)
	}
}

func TestConsoleStripsEscapes(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(Console(&buf, &ConsoleOptions{TimeFormat: time.Kitchen}))
	l.Info("red \x1b[31malert\x1b[0m", "v", "a\x1b[1mb", "q", "two \x1b[2mwords")
	got := buf.String()
	if strings.ContainsRune(got, 0x1b) {
		t.Fatalf("escape codes reached a buffer: %q", got)
	}
	if !strings.Contains(got, `INF red alert v=ab q="two words"`) {
		t.Errorf("got %q", got)
	}
}

func TestStripANSI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"\x1b[2mkey\x1b[0m=v", "key=v"},
		{"\x1b[38;5;208mx\x1b[22m", "x"},
		{"a\x1b", "a"},
		{"a\x1b[12", "a"},
		{"é\x1b[1mü", "éü"},
		{"\x1bXrest", "rest"},
	}
	for _, tt := range tests {
		if got := string(stripANSI(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("stripANSI(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzStripANSI(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[2mk\x1b[0m", "a\x1b", "\x1b\xff[1m", "é\x1b[1mü"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		got := stripANSI(nil, p)
		if bytes.IndexByte(got, 0x1b) >= 0 {
			t.Fatalf("stripANSI(%q) = %q keeps an ESC", p, got)
		}
		if bytes.IndexByte(p, 0x1b) < 0 && !bytes.Equal(got, p) {
			t.Fatalf("stripANSI(%q) = %q changed a line without escapes", p, got)
		}
		if len(got) > len(p) {
			t.Fatalf("stripANSI(%q) = %q grew", p, got)
		}
	})
}
