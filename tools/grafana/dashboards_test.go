// Package grafana decodes the repository's Grafana dashboards into Grafana's
// own types, strictly, with the default panel plugins registered: a field
// Grafana does not know, or a value of the wrong shape, fails the test.
package grafana

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// dashboardsDir is deploy/grafana/dashboards of the main module.
const dashboardsDir = "../../deploy/grafana/dashboards"

func TestDashboardsDecodeStrictly(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	files, err := filepath.Glob(filepath.Join(dashboardsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("found %d dashboards in %s, want 4: %v", len(files), dashboardsDir, files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var d dashboard.Dashboard
			if err := noErrors(d.UnmarshalJSONStrict(raw)); err != nil {
				t.Fatalf("%s does not decode strictly into dashboard.Dashboard:\n%v", f, err)
			}
			if d.Uid == nil || *d.Uid == "" || d.Title == nil || *d.Title == "" {
				t.Errorf("%s decoded without a uid or title", f)
			}
			if len(d.Panels) == 0 {
				t.Errorf("%s decoded with no panels", f)
			}
			// Every panel's type is one of Grafana's plugins, so its
			// options went through that plugin's strict decoder rather than
			// into a map of anything.
			for _, p := range d.Panels {
				if p.Panel == nil {
					continue // a row
				}
				if _, ok := cog.ConfigForPanelcfgVariant(p.Panel.Type); !ok {
					t.Errorf("panel %q has type %q, which is not a default Grafana panel plugin", deref(p.Panel.Title), p.Panel.Type)
				}
				if _, raw := p.Panel.Options.(map[string]any); raw {
					t.Errorf("panel %q (%s): options decoded as a plain map, not by the plugin", deref(p.Panel.Title), p.Panel.Type)
				}
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// noErrors returns err, or nil when it is an empty cog.BuildErrors: the
// strict decoders return their error list as it is, so "no error" arrives
// as a non-nil error holding an empty list.
func noErrors(err error) error {
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}
