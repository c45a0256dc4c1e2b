package main

import (
	"bufio"
	"fmt"
	"go/scanner"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMESnippetsCompile compiles every ```go block of README.md, so
// that none can drift from the code. The convention, which README.md
// states in its Development section:
//
//   - A snippet is the body of a function. It may start with import lines
//     (import _ "modernc.org/sqlite"), which go to the file's import block:
//     a snippet that opens a database names the driver it registers.
//   - Other packages are imported from the identifiers the snippet uses,
//     through readmeImports (slog, http, observability, dbmetrics, …).
//   - It may use, undeclared, the names in readmeGiven (ctx, cfg, tel, mux,
//     w, r, …), and need not use what it declares.
//
// Each snippet becomes a package main in a temporary folder inside the
// module, so that the module's own requirements resolve, and is checked by
// go vet (which type-checks it fully). Errors name README.md and the line
// of the snippet: //line directives map the generated file back to it.
func TestREADMESnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles each README snippet with go vet")
	}
	snippets := readmeSnippets(t, "../../README.md")
	if len(snippets) < 5 {
		t.Fatalf("found %d Go snippets in README.md; the extraction is broken", len(snippets))
	}
	// A folder starting with "_" is ignored by ./... patterns, so other
	// builds in this module never see it.
	dir, err := os.MkdirTemp(".", "_readme_snippets_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for i, s := range snippets {
		t.Run(fmt.Sprintf("README.md:%d", s.line), func(t *testing.T) {
			src, err := s.program()
			if err != nil {
				t.Fatalf("README.md:%d: snippet %d (under %q): %v", s.line, i+1, s.heading, err)
			}
			pkg := filepath.Join(dir, fmt.Sprintf("s%02d", i+1))
			if err := os.MkdirAll(pkg, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(pkg, "main.go"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("go", "vet", "./"+filepath.ToSlash(pkg)).CombinedOutput()
			if err != nil {
				t.Errorf("README.md:%d: snippet %d (under %q) does not compile: %v\n%s\ngenerated program:\n%s",
					s.line, i+1, s.heading, err, out, numbered(src))
			}
			for _, d := range s.missingDrivers() {
				t.Errorf("README.md:%d: snippet %d (under %q) opens a %q database without importing its driver: add the line\n\timport _ %q",
					s.line, i+1, s.heading, d.name, d.path)
			}
		})
	}
}

// readmeImports maps the package names snippets use to their import paths.
var readmeImports = map[string]string{
	"context":        "context",
	"errors":         "errors",
	"fmt":            "fmt",
	"http":           "net/http",
	"io":             "io",
	"os":             "os",
	"slog":           "log/slog",
	"time":           "time",
	"sqlx":           "github.com/jmoiron/sqlx",
	"stdlib":         "github.com/jackc/pgx/v5/stdlib",
	"websocket":      "github.com/coder/websocket",
	"observability":  "github.com/realtimeserver/observability",
	"handler":        "github.com/realtimeserver/observability/handler",
	"datadog":        "github.com/realtimeserver/observability/handler/datadog",
	"enrich":         "github.com/realtimeserver/observability/enrich",
	"metricsink":     "github.com/realtimeserver/observability/metricsink",
	"prometheus":     "github.com/realtimeserver/observability/metricsink/prometheus",
	"dogstatsd":      "github.com/realtimeserver/observability/metricsink/dogstatsd",
	"otlp":           "github.com/realtimeserver/observability/otlp",
	"metricsinktest": "github.com/realtimeserver/observability/metricsink/metricsinktest",
	"httpmetrics":    "github.com/realtimeserver/observability/httpmetrics",
	"wsmetrics":      "github.com/realtimeserver/observability/wsmetrics",
	"dbmetrics":      "github.com/realtimeserver/observability/dbmetrics",
	"livedash":       "github.com/realtimeserver/observability/livedash",
}

// readmeGiven are the names snippets may use without declaring them, as
// package-level variables of the generated program.
const readmeGiven = `var (
	ctx             = context.Background()
	ctxWithDeadline = context.Background()
	cfg             observability.Config
	tel             *observability.Telemetry
	mux             = http.NewServeMux()
	w               http.ResponseWriter
	r               *http.Request
	list            http.HandlerFunc
	f               *os.File
	dsn, id, key    string
	c               struct {
		ID   int64  ` + "`db:\"id\"`" + `
		Body string ` + "`db:\"body\"`" + `
	}
)`

// readmeGivenImports are the packages readmeGiven needs.
var readmeGivenImports = []string{"context", "net/http", "os", "github.com/realtimeserver/observability"}

// readmeDrivers are the database/sql drivers a snippet may open, by the
// name it opens them with, and the package that registers each.
var readmeDrivers = map[string]string{
	"sqlite": "modernc.org/sqlite",
	"pgx":    "github.com/jackc/pgx/v5/stdlib",
}

type snippet struct {
	line    int    // README line of the first line of code
	heading string // the section it is in
	imports []importLine
	body    []string
}

type importLine struct {
	line int
	spec string // `_ "modernc.org/sqlite" // comment`
}

type driver struct{ name, path string }

// readmeSnippets returns the ```go blocks of the file at path.
func readmeSnippets(t *testing.T, path string) []snippet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []snippet
	var cur *snippet
	heading := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &snippet{line: n + 1, heading: heading}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			if spec, ok := strings.CutPrefix(line, "import "); ok && len(cur.body) == 0 {
				cur.imports = append(cur.imports, importLine{n, spec})
				continue
			}
			if len(cur.body) == 0 && strings.TrimSpace(line) == "" {
				continue
			}
			if len(cur.body) == 0 {
				cur.line = n
			}
			cur.body = append(cur.body, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a ```go block is never closed", cur.line)
	}
	return out
}

// packagesUsed returns the package names of readmeImports that the code
// uses as a selector (name.X), comments and strings left out.
func packagesUsed(code string) ([]string, error) {
	var s scanner.Scanner
	fset := token.NewFileSet()
	file := fset.AddFile("snippet", -1, len(code))
	var errs []string
	s.Init(file, []byte(code), func(pos token.Position, msg string) { errs = append(errs, fmt.Sprintf("%v: %s", pos, msg)) }, 0)
	var used []string
	prev, prevLit := token.ILLEGAL, ""
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.PERIOD && prev == token.IDENT {
			if _, ok := readmeImports[prevLit]; ok && !slices.Contains(used, prevLit) {
				used = append(used, prevLit)
			}
		}
		prev, prevLit = tok, lit
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return used, nil
}

// declaredRE finds the names a top-level short variable declaration of the
// snippet declares.
var declaredRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*:=`)

// program returns the snippet as a Go file of package main.
func (s snippet) program() ([]byte, error) {
	code := strings.Join(s.body, "\n")
	used, err := packagesUsed(code)
	if err != nil {
		return nil, err
	}
	paths := slices.Clone(readmeGivenImports)
	for _, u := range used {
		if p := readmeImports[u]; !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	var b strings.Builder
	b.WriteString("// Code generated by readme_test.go from README.md. DO NOT EDIT.\n\npackage main\n\nimport (\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "\t%q\n", p)
	}
	for _, im := range s.imports {
		fmt.Fprintf(&b, "//line README.md:%d\n\t%s\n", im.line, im.spec)
	}
	b.WriteString(")\n\n" + readmeGiven + "\n\nfunc main() {\n")
	fmt.Fprintf(&b, "//line README.md:%d\n", s.line)
	var declared []string
	for _, l := range s.body {
		b.WriteString(l + "\n")
		if m := declaredRE.FindStringSubmatch(strings.TrimSpace(l)); m != nil && !strings.HasPrefix(l, "\t") {
			for _, name := range strings.Split(m[1], ",") {
				if name = strings.TrimSpace(name); name != "_" && !slices.Contains(declared, name) {
					declared = append(declared, name)
				}
			}
		}
	}
	// What the snippet declares need not be used after it.
	b.WriteString("//line README-snippet-epilogue:1\n")
	for _, name := range declared {
		fmt.Fprintf(&b, "\t_ = %s\n", name)
	}
	b.WriteString("}\n")
	return []byte(b.String()), nil
}

// missingDrivers returns the drivers the snippet opens by name without
// importing the package that registers them: it would compile, and fail
// at run time with sql: unknown driver.
func (s snippet) missingDrivers() []driver {
	var out []driver
	for _, m := range regexp.MustCompile(`(?:dbmetrics|sqlx|sql)\.Open\("([^"]+)"`).FindAllStringSubmatch(strings.Join(s.body, "\n"), -1) {
		path, ok := readmeDrivers[m[1]]
		if !ok {
			out = append(out, driver{m[1], "(a driver registering " + m[1] + ")"})
			continue
		}
		if !slices.ContainsFunc(s.imports, func(im importLine) bool { return strings.Contains(im.spec, `"`+path+`"`) }) {
			out = append(out, driver{m[1], path})
		}
	}
	return out
}

func numbered(src []byte) string {
	var b strings.Builder
	for i, l := range strings.Split(string(src), "\n") {
		fmt.Fprintf(&b, "%4d  %s\n", i+1, l)
	}
	return b.String()
}
