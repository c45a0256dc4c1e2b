// Package dbtest holds what the tests of dbmetrics share with those of its
// drivertest module, which can reach only dbmetrics' exported API: a
// recorder of the query metrics with the questions the tests ask of it.
// The hostile database passwords are in internal/secret/secrettest.
package dbtest
