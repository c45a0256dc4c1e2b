package workspace

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"
)

// nestedEnv marks a go test started by TestWorkspaceModules, so that
// `go test work` (which also matches this package) does not run the
// other modules twice.
const nestedEnv = "OBSERVABILITY_WORKSPACE_NESTED"

// TestWorkspaceModules runs `go test` on every module of go.work but the
// root one, with this run's flags, and fails when any of them fails.
func TestWorkspaceModules(t *testing.T) {
	if os.Getenv(nestedEnv) != "" {
		t.Skip("started by TestWorkspaceModules itself")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	gowork := goEnv(t, "GOWORK")
	if gowork == "" || gowork == "off" {
		testenv.Missing(t, "workspace mode (GOWORK="+gowork+")", "run go test from the repository's root, without GOWORK=off, to test every module")
	}
	if filepath.Dir(gowork) != root {
		testenv.Missing(t, "the repository's go.work (GOWORK="+gowork+")", "unset GOWORK")
	}
	out, err := exec.Command("go", "work", "edit", "-json", gowork).Output()
	if err != nil {
		t.Fatalf("go work edit -json: %v", err)
	}
	var work struct{ Use []struct{ DiskPath string } }
	if err := json.Unmarshal(out, &work); err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, u := range work.Use {
		if d := filepath.Clean(u.DiskPath); d != "." {
			patterns = append(patterns, "./"+filepath.ToSlash(d)+"/...")
		}
	}
	if len(patterns) == 0 {
		t.Fatal("go.work lists no module besides the root")
	}

	args := []string{"test"}
	if raceEnabled {
		args = append(args, "-race")
	}
	if isSet("test.count") {
		args = append(args, "-count="+flag.Lookup("test.count").Value.String())
	}
	if testing.Short() {
		args = append(args, "-short")
	}
	if testing.Verbose() {
		args = append(args, "-v")
	}
	if d, ok := t.Deadline(); ok {
		// Leave this test's binary the time to report.
		left := time.Until(d) - 30*time.Second
		if left < time.Minute {
			t.Fatalf("%v left of -timeout: not enough to test the other modules; run with -timeout 45m", time.Until(d))
		}
		args = append(args, "-timeout="+left.Round(time.Second).String())
	}
	args = append(args, patterns...)
	t.Logf("in %s: go %s", root, strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), nestedEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s: %v (the failures are above)", strings.Join(args, " "), err)
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// isSet reports whether the flag was given on the command line.
func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
