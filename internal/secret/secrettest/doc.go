// Package secrettest holds what the tests of package secret share with
// those of dbmetrics and its drivertest module: the hostile database
// passwords, the DSN forms they are written in, and the checks that no part
// of a password reaches a text or a JSON log.
package secrettest
