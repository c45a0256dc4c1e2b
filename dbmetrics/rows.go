package dbmetrics

import (
	"context"
	"database/sql/driver"
	"io"
	"reflect"
)

// rows measures a query until its rows are closed. database/sql calls
// Close exactly once, from the goroutine that holds the connection, and
// uses nothing of the rows after it.
type rows struct {
	inner driver.Rows
	in    *instrument
	ctx   context.Context
	call  call
	err   error // the first error of Next other than io.EOF
	eof   bool  // Next reported io.EOF
	done  bool
	owner *conn // the connection whose spare these rows are, else nil
}

var (
	_ driver.Rows                           = (*rows)(nil)
	_ driver.RowsNextResultSet              = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
)

func (r *rows) Columns() []string { return r.inner.Columns() }

func (r *rows) Next(dest []driver.Value) error {
	err := r.inner.Next(dest)
	if err == io.EOF {
		r.eof = true
	} else if err != nil && r.err == nil {
		r.err = err
	}
	return err
}

func (r *rows) Close() error {
	err := r.inner.Close()
	if !r.done {
		r.done = true
		e := r.err
		if e == nil {
			e = err
		}
		if e == nil && !r.eof {
			// database/sql closes the rows itself when the context ends
			// before they were read to the end: that is a failed query.
			e = r.ctx.Err()
		}
		r.in.end(r.ctx, &r.call, e)
		if c := r.owner; c != nil {
			// Done with: the connection's next query may use it. The
			// context is let go, so an idle connection keeps no request's.
			r.ctx, r.owner = nil, nil
			c.spareBusy.Store(false)
		}
	}
	return err
}

func (r *rows) HasNextResultSet() bool {
	if n, ok := r.inner.(driver.RowsNextResultSet); ok {
		return n.HasNextResultSet()
	}
	return false
}

func (r *rows) NextResultSet() error {
	if n, ok := r.inner.(driver.RowsNextResultSet); ok {
		err := n.NextResultSet()
		if err != nil && err != io.EOF && r.err == nil {
			r.err = err
		}
		return err
	}
	return io.EOF
}

var anyType = reflect.TypeFor[any]()

func (r *rows) ColumnTypeScanType(index int) reflect.Type {
	if c, ok := r.inner.(driver.RowsColumnTypeScanType); ok {
		return c.ColumnTypeScanType(index)
	}
	return anyType
}

func (r *rows) ColumnTypeDatabaseTypeName(index int) string {
	if c, ok := r.inner.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return c.ColumnTypeDatabaseTypeName(index)
	}
	return ""
}

func (r *rows) ColumnTypeLength(index int) (int64, bool) {
	if c, ok := r.inner.(driver.RowsColumnTypeLength); ok {
		return c.ColumnTypeLength(index)
	}
	return 0, false
}

func (r *rows) ColumnTypeNullable(index int) (nullable, ok bool) {
	if c, ok := r.inner.(driver.RowsColumnTypeNullable); ok {
		return c.ColumnTypeNullable(index)
	}
	return false, false
}

func (r *rows) ColumnTypePrecisionScale(index int) (precision, scale int64, ok bool) {
	if c, ok := r.inner.(driver.RowsColumnTypePrecisionScale); ok {
		return c.ColumnTypePrecisionScale(index)
	}
	return 0, 0, false
}
