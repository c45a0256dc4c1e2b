// Package enrich adds service-wide and per-request attributes to log records.
package enrich
