package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// dashboardFile is one dashboard read from disk: its JSON kept as decoded,
// so that fields this command does not know about are uploaded unchanged.
type dashboardFile struct {
	path  string
	uid   string // Grafana only
	title string
	body  map[string]any
}

// loadGrafanaDashboards reads dir/grafana/dashboards/*.json. Each must be a
// JSON object with a non-empty "uid" and "title", and uids must be unique.
func loadGrafanaDashboards(dir string) ([]dashboardFile, error) {
	files, err := loadJSONFiles(filepath.Join(dir, "grafana", "dashboards"))
	if err != nil {
		return nil, err
	}
	seen := make(map[string]string)
	var errs []error
	for i := range files {
		f := &files[i]
		f.uid, _ = f.body["uid"].(string)
		f.title, _ = f.body["title"].(string)
		switch {
		case f.uid == "":
			errs = append(errs, fmt.Errorf("%s: Grafana dashboard has no \"uid\"; a stable uid is what makes uploads update the same dashboard", f.path))
		case f.title == "":
			errs = append(errs, fmt.Errorf("%s: Grafana dashboard has no \"title\"", f.path))
		case seen[f.uid] != "":
			errs = append(errs, fmt.Errorf("%s: uid %q is also used by %s", f.path, f.uid, seen[f.uid]))
		default:
			seen[f.uid] = f.path
		}
	}
	return files, errors.Join(errs...)
}

// loadDatadogDashboards reads dir/datadog/*.json. Each must be a JSON object
// with a non-empty "title", a "layout_type" and a "widgets" list, and titles
// must be unique, since uploads find the dashboard to update by its title.
func loadDatadogDashboards(dir string) ([]dashboardFile, error) {
	files, err := loadJSONFiles(filepath.Join(dir, "datadog"))
	if err != nil {
		return nil, err
	}
	seen := make(map[string]string)
	var errs []error
	for i := range files {
		f := &files[i]
		f.title, _ = f.body["title"].(string)
		layout, _ := f.body["layout_type"].(string)
		_, hasWidgets := f.body["widgets"].([]any)
		switch {
		case f.title == "":
			errs = append(errs, fmt.Errorf("%s: Datadog dashboard has no \"title\"; uploads find the dashboard to update by its title", f.path))
		case layout != "ordered" && layout != "free":
			errs = append(errs, fmt.Errorf("%s: \"layout_type\" is %q; Datadog accepts \"ordered\" or \"free\"", f.path, layout))
		case !hasWidgets:
			errs = append(errs, fmt.Errorf("%s: Datadog dashboard has no \"widgets\" list", f.path))
		case seen[f.title] != "":
			errs = append(errs, fmt.Errorf("%s: title %q is also used by %s", f.path, f.title, seen[f.title]))
		default:
			seen[f.title] = f.path
		}
	}
	return files, errors.Join(errs...)
}

// loadJSONFiles decodes every *.json file of dir, in name order. A folder
// without any is an error: uploading nothing is never what was meant.
func loadJSONFiles(dir string) ([]dashboardFile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no *.json dashboards in %s (set -dir to the folder holding grafana/ and datadog/)", dir)
	}
	slices.Sort(paths)
	files := make([]dashboardFile, 0, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var body map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber() // keep numbers exactly as written
		if err := dec.Decode(&body); err != nil {
			return nil, fmt.Errorf("%s: not a JSON object: %w", p, err)
		}
		if body == nil {
			return nil, fmt.Errorf("%s: not a JSON object", p)
		}
		files = append(files, dashboardFile{path: p, body: body})
	}
	return files, nil
}
