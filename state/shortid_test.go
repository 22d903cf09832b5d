package state

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
)

// taken is what an INSERT … ON CONFLICT DO NOTHING returns: n rows stored.
type taken int64

func (taken) LastInsertId() (int64, error)   { return 0, nil }
func (n taken) RowsAffected() (int64, error) { return int64(n), nil }

func TestInsertShortIDTriesAgainWhenTaken(t *testing.T) {
	full := errors.New("full")
	var id string
	var tried []string
	err := insertShortID(&id, full, func() (sql.Result, error) {
		tried = append(tried, id)
		return taken(min(len(tried)-1, 1)), nil // the first ID is taken
	})
	if err != nil || len(tried) != 2 || id != tried[1] {
		t.Fatalf("got %v after trying %q, ID %q; want the second ID kept", err, tried, id)
	}
	for _, c := range id {
		if !strings.ContainsRune(shortIDAlphabet, c) || len(id) != 4 {
			t.Errorf("ID %q is not four letters of the alphabet", id)
		}
	}

	tried = nil
	err = insertShortID(&id, full, func() (sql.Result, error) {
		tried = append(tried, id)
		return taken(0), nil
	})
	if !errors.Is(err, full) || len(tried) != 20 {
		t.Errorf("every ID taken: got %v after %d tries, want %v after 20", err, len(tried), full)
	}

	failed := errors.New("disk full")
	tried = nil
	err = insertShortID(&id, full, func() (sql.Result, error) {
		tried = append(tried, id)
		return nil, failed
	})
	if !errors.Is(err, failed) || len(tried) != 1 {
		t.Errorf("a failing insert: got %v after %d tries, want %v at once", err, len(tried), failed)
	}
}
