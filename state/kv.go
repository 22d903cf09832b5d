package state

import (
	"context"
	"database/sql"
	"errors"

	"go.mau.fi/util/dbutil"
)

// Keys of the kv table used by more than one package.
const (
	// KeyNextBatch is the sync token after the last batch whose events were recorded.
	KeyNextBatch = "sync.next_batch"
	// KeyFilterID is the server-side sync filter.
	KeyFilterID = "sync.filter_id"
)

// KV stores small named values: the sync position and one-off flags.
type KV struct {
	db *dbutil.Database
}

// Get returns the value of key, or "" when it was never set.
func (kv *KV) Get(ctx context.Context, key string) (string, error) {
	var value string
	err := kv.db.QueryRow(ctx, "SELECT value FROM kv WHERE key=$1", key).Scan(&value)
	if isNoRows(err) {
		return "", nil
	}
	return value, err
}

// Set stores value under key, replacing what was there.
func (kv *KV) Set(ctx context.Context, key, value string) error {
	_, err := kv.db.Exec(ctx, "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value=excluded.value", key, value)
	return err
}

// SetOnce stores value under key unless the key already exists, and reports whether it
// stored it. It makes "say this only once" survive restarts.
func (kv *KV) SetOnce(ctx context.Context, key, value string) (bool, error) {
	res, err := kv.db.Exec(ctx, "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", key, value)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
