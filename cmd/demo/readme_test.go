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
	"unicode"
)

// repoRoot is the repository's root, from this package.
const repoRoot = "../.."

// snippetPages are the pages whose ```go blocks TestREADMESnippetsCompile
// compiles, relative to the repository's root: README.md and every page
// under docs/.
func snippetPages(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages := []string{"README.md"}
	for _, d := range docs {
		rel, err := filepath.Rel(repoRoot, d)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, filepath.ToSlash(rel))
	}
	return pages
}

// TestREADMESnippetsCompile compiles every ```go block of README.md and of
// the pages under docs/, so that none can drift from the code. The
// convention, which README.md states in its Development section:
//
//   - A snippet is the body of a function. It may start with import lines
//     (import _ "modernc.org/sqlite"), which go to the file's import block:
//     a snippet that opens a database names the driver it registers.
//   - Other packages are imported from the identifiers the snippet uses,
//     through readmeImports (slog, http, observability, dbmetrics, …).
//   - It may use, undeclared, the names in readmeGiven (ctx, cfg, tel, mux,
//     w, r, t, …), and need not use what it declares.
//
// Each snippet becomes a package main in a temporary folder inside the
// module, so that the module's own requirements resolve, and is checked by
// go vet (which type-checks it fully). Errors name the page and the line
// of the snippet: //line directives map the generated file back to it.
func TestREADMESnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles each README snippet with go vet")
	}
	var snippets []snippet
	for _, page := range snippetPages(t) {
		got := readmeSnippets(t, page)
		if page == "README.md" && len(got) < 5 {
			t.Fatalf("found %d Go snippets in README.md; the extraction is broken", len(got))
		}
		snippets = append(snippets, got...)
	}
	// A folder starting with "_" is ignored by ./... patterns, so other
	// builds in this module never see it.
	dir, err := os.MkdirTemp(".", "_readme_snippets_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for i, s := range snippets {
		t.Run(fmt.Sprintf("%s:%d", s.page, s.line), func(t *testing.T) {
			src, err := s.program()
			if err != nil {
				t.Fatalf("%s:%d: snippet %d (under %q): %v", s.page, s.line, i+1, s.heading, err)
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
				t.Errorf("%s:%d: snippet %d (under %q) does not compile: %v\n%s\ngenerated program:\n%s",
					s.page, s.line, i+1, s.heading, err, out, numbered(src))
			}
			for _, d := range s.missingDrivers() {
				t.Errorf("%s:%d: snippet %d (under %q) opens a %q database without importing its driver: add the line\n\timport _ %q",
					s.page, s.line, i+1, s.heading, d.name, d.path)
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
	"httptest":       "net/http/httptest",
	"log":            "log",
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
	t               *testing.T
	dsn, id, key    string
	c               struct {
		ID   int64  ` + "`db:\"id\"`" + `
		Body string ` + "`db:\"body\"`" + `
	}
)`

// readmeGivenImports are the packages readmeGiven needs.
var readmeGivenImports = []string{"context", "net/http", "os", "testing", "github.com/realtimeserver/observability"}

// readmeDrivers are the database/sql drivers a snippet may open, by the
// name it opens them with, and the package that registers each.
var readmeDrivers = map[string]string{
	"sqlite": "modernc.org/sqlite",
	"pgx":    "github.com/jackc/pgx/v5/stdlib",
}

type snippet struct {
	page    string // the page, relative to the repository's root
	line    int    // the page's line of the first line of code
	heading string // the section it is in
	imports []importLine
	body    []string
}

type importLine struct {
	line int
	spec string // `_ "modernc.org/sqlite" // comment`
}

type driver struct{ name, path string }

// readmeSnippets returns the ```go blocks of page, a path relative to the
// repository's root.
func readmeSnippets(t *testing.T, page string) []snippet {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, page))
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
			cur = &snippet{page: page, line: n + 1, heading: heading}
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
		t.Fatalf("%s:%d: a ```go block is never closed", page, cur.line)
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
	fmt.Fprintf(&b, "// Code generated by readme_test.go from %s. DO NOT EDIT.\n\npackage main\n\nimport (\n", s.page)
	for _, p := range paths {
		fmt.Fprintf(&b, "\t%q\n", p)
	}
	for _, im := range s.imports {
		fmt.Fprintf(&b, "//line %s:%d\n\t%s\n", s.page, im.line, im.spec)
	}
	b.WriteString(")\n\n" + readmeGiven + "\n\nfunc main() {\n")
	fmt.Fprintf(&b, "//line %s:%d\n", s.page, s.line)
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

// readmeMaxLines is the most lines README.md may have: a user reads it in
// ten minutes; design notes belong in package docs, figures in
// benchmarks/README.md.
const readmeMaxLines = 350

func TestREADMELength(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n > readmeMaxLines {
		t.Errorf("README.md has %d lines, more than %d: move design notes to package docs and figures to benchmarks/README.md", n, readmeMaxLines)
	}
}

// TestREADMEQuickStart: the quick start is exactly the two commands that
// start the demo and run every test on a fresh clone.
func TestREADMEQuickStart(t *testing.T) {
	sec := section(t, "README.md", "Quick start")
	start := strings.Index(sec, "```sh\n")
	if start < 0 {
		t.Fatal("README.md's Quick start has no ```sh block")
	}
	block, _, ok := strings.Cut(sec[start+len("```sh\n"):], "```")
	if !ok {
		t.Fatal("README.md's Quick start block is never closed")
	}
	var got []string
	for _, l := range strings.Split(block, "\n") {
		if cmd, _, _ := strings.Cut(l, "#"); strings.TrimSpace(cmd) != "" {
			got = append(got, strings.Join(strings.Fields(cmd), " "))
		}
	}
	if want := []string{"go run ./cmd/demo", "go test ./..."}; !slices.Equal(got, want) {
		t.Errorf("README.md's Quick start commands are %q, want exactly %q", got, want)
	}
}

// figureRE finds measured figures: ratios (1.19×), times (701 ns, 25 µs)
// and sizes (19.6 MB).
var figureRE = regexp.MustCompile(`\d(?:[\d,.]*\d)?\s?(?:×|ns\b|µs\b|ms/op|MB\b|MiB/s|records/s)`)

// TestREADMEFigures: no measured figure in README.md. Each figure stands
// in one place, beside the command that produced it: benchmarks/README.md,
// which cmd/ratios writes.
func TestREADMEFigures(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if m := figureRE.FindString(l); m != "" {
			t.Errorf("README.md:%d: the figure %q belongs in benchmarks/README.md, with its command: link to it instead", i+1, m)
		}
	}
}

// docPages are the markdown pages whose links TestDocLinks checks,
// relative to the repository's root.
func docPages(t *testing.T) []string {
	t.Helper()
	var pages []string
	err := filepath.WalkDir(repoRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != repoRoot && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".md") {
			rel, err := filepath.Rel(repoRoot, path)
			if err != nil {
				return err
			}
			pages = append(pages, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

// repoURL is the repository's address; links to files on its main branch
// are checked like relative links.
const repoURL = "https://github.com/realtimeserver/observability/blob/main/"

var (
	// linkRE finds markdown links and images: [text](target) and
	// ![alt](target), the target without a title.
	linkRE = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)\)`)
	// codeSpanRE finds inline code, whose text is not a link.
	codeSpanRE = regexp.MustCompile("`[^`]*`")
	// runbookRE finds the runbook_url of an alert rule.
	runbookRE = regexp.MustCompile(`runbook_url:\s*(\S+)`)
)

// TestDocLinks: every link from one page of the repository to a file of
// it, or to a heading of a page, resolves: the file exists, and the
// anchor is one of the page's headings. So do the alert rules'
// runbook_url.
func TestDocLinks(t *testing.T) {
	pages := docPages(t)
	if !slices.Contains(pages, "README.md") {
		t.Fatalf("found pages %q, not README.md: the walk is broken", pages)
	}
	type link struct{ from, target string }
	var links []link
	for _, page := range pages {
		data, err := os.ReadFile(filepath.Join(repoRoot, page))
		if err != nil {
			t.Fatal(err)
		}
		inCode := false
		for i, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "```") {
				inCode = !inCode
				continue
			}
			if inCode {
				continue
			}
			for _, m := range linkRE.FindAllStringSubmatch(codeSpanRE.ReplaceAllString(l, ""), -1) {
				links = append(links, link{fmt.Sprintf("%s:%d", page, i+1), resolve(page, m[1])})
			}
		}
	}
	alerts := "deploy/prometheus/alerts.yml"
	data, err := os.ReadFile(filepath.Join(repoRoot, alerts))
	if err != nil {
		t.Fatal(err)
	}
	runbooks := 0
	for i, l := range strings.Split(string(data), "\n") {
		if m := runbookRE.FindStringSubmatch(l); m != nil {
			runbooks++
			target, ok := strings.CutPrefix(m[1], repoURL)
			if !ok {
				t.Errorf("%s:%d: runbook_url %s is not a page of this repository (%s…)", alerts, i+1, m[1], repoURL)
				continue
			}
			links = append(links, link{fmt.Sprintf("%s:%d", alerts, i+1), target})
		}
	}
	if runbooks == 0 {
		t.Errorf("%s has no runbook_url: the search is broken", alerts)
	}
	anchors := map[string][]string{}
	checked := 0
	for _, l := range links {
		if l.target == "" { // an address outside the repository
			continue
		}
		checked++
		path, frag, _ := strings.Cut(l.target, "#")
		if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(path))); err != nil {
			t.Errorf("%s: link to %s: no such file or folder in the repository", l.from, l.target)
			continue
		}
		if frag == "" {
			continue
		}
		if !strings.HasSuffix(path, ".md") {
			t.Errorf("%s: link to %s: an anchor into a file that is not a markdown page", l.from, l.target)
			continue
		}
		if _, ok := anchors[path]; !ok {
			anchors[path] = headingAnchors(t, path)
		}
		if !slices.Contains(anchors[path], frag) {
			t.Errorf("%s: link to %s: %s has no heading with the anchor #%s (it has %s)", l.from, l.target, path, frag, strings.Join(anchors[path], ", "))
		}
	}
	if checked < 10 {
		t.Errorf("checked %d links in %d pages: the search is broken", checked, len(pages))
	}
}

// resolve returns the target of a link on page as a path from the
// repository's root, with its #anchor, or "" when it points outside the
// repository.
func resolve(page, target string) string {
	if rest, ok := strings.CutPrefix(target, repoURL); ok {
		return rest
	}
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
		return ""
	}
	path, frag, _ := strings.Cut(target, "#")
	if path == "" {
		path = page
	} else {
		path = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(page), path)))
	}
	if frag != "" {
		return path + "#" + frag
	}
	return path
}

// headingAnchors returns the anchors GitHub gives the headings of page:
// lower case, letters, digits, '-' and '_' kept, spaces made '-', the
// rest dropped, and -1, -2, … added to repeats.
func headingAnchors(t *testing.T, page string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, page))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	seen := map[string]int{}
	inCode := false
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inCode = !inCode
			continue
		}
		if inCode || !strings.HasPrefix(l, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(l, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out = append(out, fmt.Sprintf("%s-%d", a, n))
		} else {
			out = append(out, a)
		}
		seen[a]++
	}
	return out
}

// section returns the text of page's section under the heading title, up
// to the next heading of any level.
func section(t *testing.T, page, title string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, page))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	in, inCode := false, false
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inCode = !inCode
		}
		if !inCode && strings.HasPrefix(l, "#") {
			if in {
				break
			}
			in = strings.TrimSpace(strings.TrimLeft(l, "#")) == title
			continue
		}
		if in {
			b.WriteString(l + "\n")
		}
	}
	if !in && b.Len() == 0 {
		t.Fatalf("%s has no section %q", page, title)
	}
	return b.String()
}

var (
	// envReadRE finds the variables config.go reads: get("NAME") and
	// firstSet(get, "NAME", "NAME2").
	envReadRE = regexp.MustCompile(`get\("([A-Z][A-Z0-9_]*)"\)|firstSet\(get((?:,\s*"[A-Z][A-Z0-9_]*")+)\)`)
	// envNameRE finds quoted variable names.
	envNameRE = regexp.MustCompile(`"([A-Z][A-Z0-9_]*)"`)
)

// TestREADMEConfigTable: every variable ConfigFromEnv reads is in
// README.md's configuration table, and every OpenTelemetry variable it
// names is in docs/opentelemetry.md, so that a variable added to the code
// cannot be missing from the pages.
func TestREADMEConfigTable(t *testing.T) {
	table := section(t, "README.md", "Configuration")
	src, err := os.ReadFile(filepath.Join(repoRoot, "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range envReadRE.FindAllStringSubmatch(string(src), -1) {
		if m[1] != "" {
			names = append(names, m[1])
		}
		for _, n := range envNameRE.FindAllStringSubmatch(m[2], -1) {
			names = append(names, n[1])
		}
	}
	if len(names) < 10 {
		t.Fatalf("found %d variables read by config.go (%q): the search is broken", len(names), names)
	}
	for _, n := range names {
		if !strings.Contains(table, "`"+n+"`") {
			t.Errorf("config.go reads %s, which README.md's configuration table does not name", n)
		}
	}
	otel, err := os.ReadFile(filepath.Join(repoRoot, "config_otel.go"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(repoRoot, "docs", "opentelemetry.md"))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, m := range envNameRE.FindAllStringSubmatch(string(otel), -1) {
		if !strings.HasPrefix(m[1], "OTEL_") {
			continue
		}
		found++
		if !strings.Contains(string(page), m[1]) {
			t.Errorf("config_otel.go names %s, which docs/opentelemetry.md does not", m[1])
		}
	}
	if found < 10 {
		t.Fatalf("found %d OTEL_ names in config_otel.go: the search is broken", found)
	}
}
