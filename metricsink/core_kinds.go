package metricsink

import (
	"fmt"
	"log/slog"

	"github.com/realtimeserver/observability/drop"
)

// Metric is what a kind table knows of one metric name.
type Metric struct {
	// Desc is the name's declaration, or what its first use implied: the
	// Name as first given, the Kind, and the Unit "seconds" for a first
	// use by Duration. The backend may complete it from a later Declare.
	Desc Desc
	// Base is SnakeCase(Desc.Name).
	Base string
	// Declared reports whether the name was declared.
	Declared bool
	// Data is what the backend keeps for the name (a family, an
	// instrument), set by the function given to Use or Declare.
	Data any

	series int // series counted by AddSeries
}

// Kinds is a backend's kind table and its bounds on names and series.
//
// A name is known by its SnakeCase form and has one kind: the first use
// (Use) or declaration (Declare) wins, and a sample of another kind is
// refused (reason type_clash); so is a Duration into a histogram whose
// unit is not seconds, since durations are recorded in seconds. Names past
// the bound on names are refused (reason overflow); AddSeries bounds the
// series of one metric and of all.
//
// Kinds is not safe for concurrent use: a backend calls it under a lock of
// its own, and only on the path that resolves a new name or series, never
// on its hot path.
type Kinds struct {
	backend    string
	drops      *Drops
	namesOpt   string
	m          map[string]*Metric
	maxNames   int
	maxPerName int
	maxSeries  int
	names      int // Metrics made, aliases excluded
	series     int
}

// NewKinds returns an empty kind table for at most maxNames names, each
// with at most maxSeriesPerName series, and maxSeries series in all.
// backend prefixes its errors; drops counts the samples of names past the
// bound, warned about once, the bound named namesOption
// ("Options.MaxMetrics").
func NewKinds(backend string, drops *Drops, namesOption string, maxNames, maxSeriesPerName, maxSeries int) *Kinds {
	return &Kinds{backend: backend, drops: drops, namesOpt: namesOption, m: make(map[string]*Metric),
		maxNames: maxNames, maxPerName: maxSeriesPerName, maxSeries: maxSeries}
}

// Get returns the metric whose SnakeCase form is base, or nil.
func (t *Kinds) Get(base string) *Metric { return t.m[base] }

// Names returns the number of names made (aliases excluded).
func (t *Kinds) Names() int { return t.names }

// Create makes the backend's part of a new metric: it fills m.Data, or
// returns another metric for m to stand for (a name that maps to the same
// thing in the backend's format), or refuses m with a reason and a detail.
type Create func(m *Metric) (alias *Metric, r drop.Reason, detail string)

// Use returns the metric of name for a sample of op, making it with
// create on first use, or the reason and detail why the sample must be
// dropped: the name's (see CheckName), type_clash for another kind, or a
// Duration into a histogram of another unit, or what create refused; the
// caller counts these. A new name past the bound is counted and warned
// about (once for all names) here, and returned as overflow with an empty
// detail.
func (t *Kinds) Use(op Op, name string, create Create) (*Metric, drop.Reason, string) {
	base, r, detail := CheckName(name)
	if r != 0 {
		return nil, r, detail
	}
	k := op.Kind()
	if m := t.m[base]; m != nil {
		if r, detail := m.accepts(op); r != 0 {
			return nil, r, detail
		}
		return m, 0, ""
	}
	if t.names >= t.maxNames {
		t.drops.Add(drop.Overflow, 1)
		t.drops.Warn("overflow-names", "reached its limit on metric names ("+t.namesOpt+"); samples of new names are dropped",
			slog.Int("limit", t.maxNames))
		return nil, drop.Overflow, ""
	}
	d := Desc{Name: name, Kind: k}
	if op == OpDuration {
		d.Unit = "seconds"
	}
	return t.add(&Metric{Desc: d, Base: base}, op, create)
}

func (t *Kinds) add(m *Metric, op Op, create Create) (*Metric, drop.Reason, string) {
	if create != nil {
		alias, r, detail := create(m)
		if r != 0 {
			return nil, r, detail
		}
		if alias != nil {
			if op != 0 {
				if r, detail := alias.accepts(op); r != 0 {
					return nil, r, detail
				}
			}
			t.m[m.Base] = alias
			return alias, 0, ""
		}
	}
	t.m[m.Base] = m
	t.names++
	return m, 0, ""
}

// accepts reports why m refuses a sample of op.
func (m *Metric) accepts(op Op) (drop.Reason, string) {
	if k := op.Kind(); m.Desc.Kind != k {
		return drop.TypeClash, m.Desc.Name + " is already a " + m.Desc.Kind.String()
	}
	if op == OpDuration && m.Desc.Unit != "seconds" {
		u := m.Desc.Unit
		if u == "" {
			u = "values without unit"
		}
		return drop.TypeClash, m.Desc.Name + " is a histogram of " + u + ", not of seconds"
	}
	return 0, ""
}

// Declare records d, which must be valid (Desc.Validate), for its name
// and returns its metric, made with create when new. For a name in use it
// returns the metric and existed, or an error when d's kind or unit is
// not the metric's; the backend then applies what it can of d (help,
// buckets) and its own rules.
func (t *Kinds) Declare(d Desc, create Create) (m *Metric, existed bool, err error) {
	base, r, detail := CheckName(d.Name)
	if r != 0 {
		return nil, false, fmt.Errorf("%s: Declare %q: %s", t.backend, d.Name, detail)
	}
	if m := t.m[base]; m != nil {
		switch {
		case m.Desc.Kind != d.Kind:
			return nil, true, fmt.Errorf("%s: Declare %q as a %s: %s is already a %s", t.backend, d.Name, d.Kind, m.Desc.Name, m.Desc.Kind)
		case m.Desc.Unit != d.Unit:
			return nil, true, fmt.Errorf("%s: Declare %q with unit %q: %s already has unit %q", t.backend, d.Name, d.Unit, m.Desc.Name, m.Desc.Unit)
		}
		return m, true, nil
	}
	if t.names >= t.maxNames {
		return nil, false, fmt.Errorf("%s: Declare %q: the backend already holds its limit of %d names", t.backend, d.Name, t.maxNames)
	}
	m, r, detail = t.add(&Metric{Desc: d, Base: base, Declared: true}, 0, create)
	if r != 0 {
		return nil, false, fmt.Errorf("%s: Declare %q: %s (%s)", t.backend, d.Name, detail, r)
	}
	return m, false, nil
}

// Room says whether one more series fits.
type Room uint8

// The answers of AddSeries.
const (
	// RoomOK: the series is counted.
	RoomOK Room = iota
	// RoomMetricFull: the metric has its limit of series.
	RoomMetricFull
	// RoomFull: the backend has its limit of series over every metric.
	RoomFull
)

// AddSeries counts one more series of m when it fits. An overflow series
// (one that gathers the samples of a full metric) counts towards the
// total only.
func (t *Kinds) AddSeries(m *Metric, overflow bool) Room {
	switch {
	case !overflow && m.series >= t.maxPerName:
		return RoomMetricFull
	case t.series >= t.maxSeries:
		return RoomFull
	}
	if !overflow {
		m.series++
	}
	t.series++
	return RoomOK
}

// RemoveSeries forgets a series counted by AddSeries.
func (t *Kinds) RemoveSeries(m *Metric, overflow bool) {
	if !overflow {
		m.series--
	}
	t.series--
}

// Series returns the number of series counted.
func (t *Kinds) Series() int { return t.series }

// MetricFull reports whether m holds its limit of series.
func (t *Kinds) MetricFull(m *Metric) bool { return m.series >= t.maxPerName }
