package dbmetrics

import (
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/realtimeserver/observability/internal/secret"
)

// How the wrappers keep the driver's optional interfaces.
//
// database/sql discovers what a driver can do by type assertion, so a
// wrapper that has a method the driver lacks could change behaviour, and
// one that lacks a method the driver has would hide a feature. Building one
// wrapper type per combination would take 2^N types. Instead each wrapper
// always implements an optional interface when its absence can be
// reproduced exactly through the interface itself, and answers as
// database/sql does when the driver lacks it:
//
//   - ExecerContext, QueryerContext: call the driver's context method, or
//     its legacy Execer/Queryer as database/sql would, or return
//     driver.ErrSkip, on which database/sql prepares the statement instead.
//   - ConnPrepareContext, ConnBeginTx, StmtExecContext, StmtQueryContext:
//     fall back to Prepare, Begin, Exec and Query with the same checks of
//     the context and the options as database/sql's own fallbacks.
//   - Pinger, SessionResetter, Validator: nil, nil and true, which is what
//     database/sql assumes of a driver without them.
//   - NamedValueChecker: the statement's checker, else the connection's,
//     else driver.ErrSkip, on which database/sql goes on to the column
//     converter and the default conversion exactly as if no checker existed.
//   - RowsNextResultSet and the RowsColumnType* interfaces: the "none" or
//     "unknown" answers that database/sql gives for a driver without them.
//
// The one interface whose mere presence changes what database/sql does is
// the deprecated ColumnConverter on statements, so statements come in two
// types, with and without it.

// wrappedDriver is a driver.Driver whose connections are measured.
type wrappedDriver struct {
	inner driver.Driver
	in    *instrument
}

var (
	_ driver.Driver        = (*wrappedDriver)(nil)
	_ driver.DriverContext = (*wrappedDriver)(nil)
)

func (d *wrappedDriver) Open(name string) (driver.Conn, error) {
	c, err := d.inner.Open(name)
	if err != nil {
		return nil, secret.New(nil, secret.DSNPasswords(name)).Err(err)
	}
	return wrapConn(c, d.in), nil
}

func (d *wrappedDriver) OpenConnector(name string) (driver.Connector, error) {
	scrub := secret.New(nil, secret.DSNPasswords(name))
	var c driver.Connector = dsnConnector{dsn: name, d: d.inner}
	if dc, ok := d.inner.(driver.DriverContext); ok {
		var err error
		if c, err = dc.OpenConnector(name); err != nil {
			return nil, scrub.Err(err)
		}
	}
	return &connector{inner: c, drv: d, in: d.in, scrub: scrub}, nil
}

// dsnConnector is the connector of a driver without DriverContext, the
// same as database/sql's own.
type dsnConnector struct {
	dsn string
	d   driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

// connector wraps the connections of inner. database/sql calls its Close
// when the DB is closed; that unregisters the pool gauges.
type connector struct {
	inner      driver.Connector
	drv        *wrappedDriver
	in         *instrument
	scrub      *secret.Scrubber // removes the DSN's password from connection errors; nil: nothing to remove
	unregister func()           // set once after sql.OpenDB, before the DB is shared
	closeOnce  sync.Once
}

var (
	_ driver.Connector = (*connector)(nil)
	_ io.Closer        = (*connector)(nil)
)

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	ci, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, c.scrub.Err(err)
	}
	return wrapConn(ci, c.in), nil
}

func (c *connector) Driver() driver.Driver { return c.drv }

// Close unregisters the pool gauges and closes the inner connector when it
// is an io.Closer.
func (c *connector) Close() error {
	var err error
	c.closeOnce.Do(func() {
		if c.unregister != nil {
			c.unregister()
		}
		if cl, ok := c.inner.(io.Closer); ok {
			err = cl.Close()
		}
	})
	return err
}

// conn is a measured driver.Conn. The driver's optional interfaces are
// looked up once, when the connection is wrapped.
type conn struct {
	inner    driver.Conn
	in       *instrument
	execCtx  driver.ExecerContext
	exec     driver.Execer //nolint:staticcheck // legacy drivers still have it
	queryCtx driver.QueryerContext
	query    driver.Queryer //nolint:staticcheck // legacy drivers still have it
	prepCtx  driver.ConnPrepareContext
	beginTx  driver.ConnBeginTx
	nvc      driver.NamedValueChecker

	// spare is the rows wrapper of the connection's current query, so
	// that a query allocates none of its own; spareBusy says it is in use
	// (until its Close), and a query made meanwhile (several open rows in
	// one transaction) gets a wrapper of its own. database/sql never
	// touches a driver's rows after closing them, and calls a connection's
	// methods, the rows' Close included, one at a time.
	spare     rows
	spareBusy atomic.Bool
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func wrapConn(c driver.Conn, in *instrument) *conn {
	w := &conn{inner: c, in: in}
	w.execCtx, _ = c.(driver.ExecerContext)
	w.exec, _ = c.(driver.Execer) //nolint:staticcheck
	w.queryCtx, _ = c.(driver.QueryerContext)
	w.query, _ = c.(driver.Queryer) //nolint:staticcheck
	w.prepCtx, _ = c.(driver.ConnPrepareContext)
	w.beginTx, _ = c.(driver.ConnBeginTx)
	w.nvc, _ = c.(driver.NamedValueChecker)
	return w
}

// Unwrap returns the driver's own connection, for sql.Conn.Raw users who
// need its extra methods:
//
//	conn.Raw(func(c any) error {
//		pc := c.(interface{ Unwrap() driver.Conn }).Unwrap().(*stdlib.Conn)
//		...
//	})
func (c *conn) Unwrap() driver.Conn { return c.inner }

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var si driver.Stmt
	var err error
	if c.prepCtx != nil {
		si, err = c.prepCtx.PrepareContext(ctx, query)
	} else {
		si, err = c.inner.Prepare(query)
		if err == nil && ctx.Err() != nil {
			si.Close()
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	return wrapStmt(si, c, query), nil
}

func (c *conn) Close() error { return c.inner.Close() }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.beginTx == nil {
		if opts.Isolation != 0 {
			return nil, errors.New("sql: driver does not support non-default isolation level")
		}
		if opts.ReadOnly {
			return nil, errors.New("sql: driver does not support read-only transactions")
		}
	}
	call := c.in.begin(ctx, txBegin)
	var txi driver.Tx
	var err error
	if c.beginTx != nil {
		txi, err = c.beginTx.BeginTx(ctx, opts)
	} else {
		txi, err = c.inner.Begin() //nolint:staticcheck
		if err == nil && ctx.Err() != nil {
			txi.Rollback()
			txi, err = nil, ctx.Err()
		}
	}
	c.in.end(ctx, &call, err)
	if err != nil {
		return nil, err
	}
	return &tx{inner: txi, in: c.in, ctx: ctx, source: call.source}, nil
}

// legacyArgs is what database/sql checks before it calls a driver's
// legacy Exec or Query: the arguments converted by namedValueToValue and
// the context not yet ended. Its error is the query's outcome, recorded
// like the driver's own.
func legacyArgs(ctx context.Context, args []driver.NamedValue) ([]driver.Value, error) {
	dargs, err := namedValueToValue(args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return dargs, nil
}

// namedValueToValue is database/sql's conversion for legacy drivers.
func namedValueToValue(named []driver.NamedValue) ([]driver.Value, error) {
	dargs := make([]driver.Value, len(named))
	for n, param := range named {
		if len(param.Name) > 0 {
			return nil, errors.New("sql: driver does not support the use of Named Parameters")
		}
		dargs[n] = param.Value
	}
	return dargs, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.execCtx == nil && c.exec == nil {
		return nil, driver.ErrSkip
	}
	info := c.in.info(query)
	call := c.in.begin(ctx, info)
	var res driver.Result
	var err error
	if c.execCtx != nil {
		res, err = c.execCtx.ExecContext(ctx, query, args)
	} else {
		var dargs []driver.Value
		if dargs, err = legacyArgs(ctx, args); err == nil {
			res, err = c.exec.Exec(query, dargs)
		}
	}
	if err == driver.ErrSkip {
		return nil, err
	}
	c.in.end(ctx, &call, err)
	return res, err
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.queryCtx == nil && c.query == nil {
		return nil, driver.ErrSkip
	}
	info := c.in.info(query)
	call := c.in.begin(ctx, info)
	var ri driver.Rows
	var err error
	if c.queryCtx != nil {
		ri, err = c.queryCtx.QueryContext(ctx, query, args)
	} else {
		var dargs []driver.Value
		if dargs, err = legacyArgs(ctx, args); err == nil {
			ri, err = c.query.Query(query, dargs)
		}
	}
	if err == driver.ErrSkip {
		return nil, err
	}
	if err != nil {
		c.in.end(ctx, &call, err)
		return nil, err
	}
	if c.spareBusy.CompareAndSwap(false, true) {
		c.spare = rows{inner: ri, in: c.in, ctx: ctx, call: call, owner: c}
		return &c.spare, nil
	}
	return &rows{inner: ri, in: c.in, ctx: ctx, call: call}, nil
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if c.nvc != nil {
		return c.nvc.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// tx measures commit and rollback. Its source is the one given with
// WithSource to BeginTx's context, else SourceNone.
type tx struct {
	inner  driver.Tx
	in     *instrument
	ctx    context.Context
	source string
}

func (t *tx) Commit() error {
	call := call{info: txCommit, source: t.source, start: now()}
	if tr := t.in.tracer(); tr != nil && t.ctx != nil {
		call.span = t.in.startSpan(t.ctx, tr, txCommit, cmp.Or(t.source, SourceNone))
	}
	err := t.inner.Commit()
	t.in.end(t.ctx, &call, err)
	return err
}

func (t *tx) Rollback() error {
	call := call{info: txRollback, source: t.source, start: now()}
	if tr := t.in.tracer(); tr != nil && t.ctx != nil {
		call.span = t.in.startSpan(t.ctx, tr, txRollback, cmp.Or(t.source, SourceNone))
	}
	err := t.inner.Rollback()
	t.in.end(t.ctx, &call, err)
	return err
}
