package footprint

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const kitModule = "github.com/realtimeserver/observability"

// build compiles the program in dir (relative to this package), stripped,
// as a user's build would: outside the repository's workspace, from the
// benchmarks module's requirements, with the build tags given.
func build(t *testing.T, dir string, tags ...string) (path string, size int64, modules []string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), filepath.Base(dir))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-tags="+strings.Join(tags, ","), "-o", path, "./"+dir)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./%s: %v\n%s", dir, err, out)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "version", "-m", path).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "dep" {
			modules = append(modules, f[1])
		}
	}
	return path, st.Size(), modules
}

// thirdParty returns the modules that are neither the kit's own nor in
// leave.
func thirdParty(modules, leave []string) []string {
	var out []string
	for _, m := range modules {
		if m == kitModule || strings.HasPrefix(m, kitModule+"/") || slices.Contains(leave, m) {
			continue
		}
		out = append(out, m)
	}
	return out
}

func TestFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four programs")
	}
	_, _, sqlite := build(t, "sqliteonly")
	_, kitSize, kitMods := build(t, "kit")
	_, protoSize, protoMods := build(t, "kit", "promproto")
	_, plainSize, plainMods := build(t, "plain")
	kit, plain := thirdParty(kitMods, sqlite), thirdParty(plainMods, sqlite)
	ratio := float64(kitSize) / float64(plainSize)
	t.Logf("SQLite driver's modules (left out of both counts): %d: %s", len(sqlite), strings.Join(sqlite, " "))
	t.Logf("kit:   %.1f MB stripped, %d third-party modules: %s", float64(kitSize)/1e6, len(kit), strings.Join(kit, " "))
	t.Logf("plain: %.1f MB stripped, %d third-party modules: %s", float64(plainSize)/1e6, len(plain), strings.Join(plain, " "))
	t.Logf("size ratio kit/plain: %.2f (bound %.2f)", ratio, MaxRatio)
	// The protobuf exposition is opt-in (metricsink/prometheus/promproto):
	// what importing it costs is reported, not bounded.
	proto := thirdParty(protoMods, sqlite)
	t.Logf("kit with promproto: %.1f MB stripped (+%.1f MB), %d third-party modules, ratio to plain %.2f",
		float64(protoSize)/1e6, float64(protoSize-kitSize)/1e6, len(proto), float64(protoSize)/float64(plainSize))
	if len(kit) > MaxModules {
		t.Errorf("the kit's program links %d third-party modules besides the SQLite driver's; the bound is %d", len(kit), MaxModules)
	}
	if ratio > MaxRatio {
		t.Errorf("the kit's program weighs %.2f times the plain one; the bound is %.2f", ratio, MaxRatio)
	}
	for _, m := range kitMods {
		if m == "google.golang.org/grpc" || strings.HasPrefix(m, "go.opentelemetry.io/otel/sdk") || strings.HasPrefix(m, "go.opentelemetry.io/otel/exporters") {
			t.Errorf("the kit's program links %s", m)
		}
	}
}

// TestFootprintDeps: the packages the kit's program imports do not
// include the OpenTelemetry SDK or gRPC, whatever the linker keeps.
func TestFootprintDeps(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./kit")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./kit: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "go.opentelemetry.io/otel/sdk") || strings.HasPrefix(p, "google.golang.org/grpc") {
			t.Errorf("the kit's program imports %s", p)
		}
	}
}

// TestKitGoMod: the module such a program requires names none of the
// modules only the demo or the tests use.
func TestKitGoMod(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"github.com/chromedp/", "github.com/jackc/pgx", "modernc.org/sqlite"} {
		if bytes.Contains(data, []byte(m)) {
			t.Errorf("the kit's go.mod requires %s", m)
		}
	}
}
