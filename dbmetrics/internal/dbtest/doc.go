// Package dbtest holds what the tests of dbmetrics share with those of its
// drivertest module, which can reach only dbmetrics' exported API: a
// recorder of the query metrics with the questions the tests ask of it, and
// the hostile database passwords, the DSN forms they are written in and the
// check that no part of a password reaches a text.
package dbtest
