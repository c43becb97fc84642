package sql

import (
	"context"
	"errors"
	"testing"
)

// TestErrorFieldsForClients covers what psql prints in verbose mode: the
// objects of an integrity violation and the position of a bad literal.
func TestErrorFieldsForClients(t *testing.T) {
	db, _ := newTestDB(t)
	s := db.NewLocalSession()
	mustExec(t, s, "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL); INSERT INTO items VALUES (1, 'a')")
	_, err := s.Exec(context.Background(), "INSERT INTO items VALUES (1, 'b')")
	var e *Error
	if !errors.As(err, &e) || e.Code != codeUnique || e.Schema != "public" || e.Table != "items" || e.Constraint != "items_pkey" {
		t.Fatalf("unique violation: %#v", err)
	}
	_, err = s.Exec(context.Background(), "INSERT INTO items VALUES (2, NULL)")
	if !errors.As(err, &e) || e.Code != codeNotNull || e.Table != "items" || e.Column != "name" {
		t.Fatalf("not-null violation: %#v", err)
	}
	_, err = s.Exec(context.Background(), "SELECT 'abc'::int")
	if !errors.As(err, &e) || e.Code != codeInvalidText || e.Pos != 8 {
		t.Fatalf("bad literal: %#v", err)
	}
}
