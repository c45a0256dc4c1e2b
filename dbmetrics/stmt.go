package dbmetrics

import (
	"context"
	"database/sql/driver"
)

// stmt is a measured prepared statement. The statement is read when it is
// prepared; preparing itself is not measured.
type stmt struct {
	inner    driver.Stmt
	in       *instrument
	info     *stmtInfo
	execCtx  driver.StmtExecContext
	queryCtx driver.StmtQueryContext
	nvc      driver.NamedValueChecker // the statement's, else the connection's
}

// stmtCC is a stmt whose driver statement has the deprecated
// ColumnConverter, which database/sql treats differently by its presence.
type stmtCC struct {
	*stmt
	cc driver.ColumnConverter //nolint:staticcheck
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
	_ driver.ColumnConverter   = stmtCC{} //nolint:staticcheck
)

func wrapStmt(si driver.Stmt, c *conn, query string) driver.Stmt {
	s := &stmt{inner: si, in: c.in, info: c.in.info(query), nvc: c.nvc}
	s.execCtx, _ = si.(driver.StmtExecContext)
	s.queryCtx, _ = si.(driver.StmtQueryContext)
	if nvc, ok := si.(driver.NamedValueChecker); ok {
		s.nvc = nvc
	}
	if cc, ok := si.(driver.ColumnConverter); ok { //nolint:staticcheck
		return stmtCC{s, cc}
	}
	return s
}

func (s stmtCC) ColumnConverter(idx int) driver.ValueConverter { return s.cc.ColumnConverter(idx) }

func (s *stmt) Close() error  { return s.inner.Close() }
func (s *stmt) NumInput() int { return s.inner.NumInput() }

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if s.nvc != nil {
		return s.nvc.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	call := s.in.begin(context.Background(), s.info)
	res, err := s.inner.Exec(args) //nolint:staticcheck
	s.in.end(context.Background(), &call, err)
	return res, err
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	ctx := context.Background()
	call := s.in.begin(ctx, s.info)
	ri, err := s.inner.Query(args) //nolint:staticcheck
	if err != nil {
		s.in.end(ctx, &call, err)
		return nil, err
	}
	return &rows{inner: ri, in: s.in, ctx: ctx, call: call}, nil
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	call := s.in.begin(ctx, s.info)
	var res driver.Result
	var err error
	if s.execCtx != nil {
		res, err = s.execCtx.ExecContext(ctx, args)
	} else {
		var dargs []driver.Value
		if dargs, err = legacyArgs(ctx, args); err == nil {
			res, err = s.inner.Exec(dargs) //nolint:staticcheck
		}
	}
	s.in.end(ctx, &call, err)
	return res, err
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	call := s.in.begin(ctx, s.info)
	var ri driver.Rows
	var err error
	if s.queryCtx != nil {
		ri, err = s.queryCtx.QueryContext(ctx, args)
	} else {
		var dargs []driver.Value
		if dargs, err = legacyArgs(ctx, args); err == nil {
			ri, err = s.inner.Query(dargs) //nolint:staticcheck
		}
	}
	if err != nil {
		s.in.end(ctx, &call, err)
		return nil, err
	}
	return &rows{inner: ri, in: s.in, ctx: ctx, call: call}, nil
}
