package term

import (
	"bytes"
	"os"
	"testing"
)

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		name string
		w    any
	}{{"a regular file", f}, {"a buffer", new(bytes.Buffer)}, {"a nil file", (*os.File)(nil)}} {
		w, _ := c.w.(interface{ Write([]byte) (int, error) })
		if IsTerminal(w) {
			t.Errorf("IsTerminal(%s) = true, want false", c.name)
		}
	}
}
