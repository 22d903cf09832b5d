// Package state is Steward's memory: one SQLite database under data_dir that holds the
// sync position, the command inbox, the outbox, the audit log and (through mautrix) the
// encryption keys. Anything that must survive a crash is written here before it is
// acted on.
package state

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream" // registers the sqlite3-fk-wal-fullsync driver

	"github.com/steward-bot/steward/state/upgrades"
)

// DB groups the query types of Steward's tables over one database.
type DB struct {
	// Raw is the underlying database, shared with mautrix's crypto and state stores so
	// that everything Steward knows lives in one file.
	Raw *dbutil.Database
	db  *dbutil.Database

	KV          *KV
	Inbox       *Inbox
	Outbox      *Outbox
	Audit       *Audit
	Undecrypted *Undecrypted
	Approvals   *Approvals
	Alerts      *Alerts
	Silences    *Silences
	UpdateJobs  *UpdateJobs
	BackupRuns  *BackupRuns
	Tickets     *Tickets
	Jobs        *Jobs
}

// Open opens (creating if needed) the database at path and applies pending migrations.
// Writes use synchronous=FULL so a power cut cannot lose a committed outbox entry.
//
// The pool is not limited to one connection: mautrix's crypto store shares it and may
// query outside its own transactions while one is open, which would deadlock a
// single-connection pool. Instead, as mautrix's own cryptohelper does, the database is
// in WAL mode and write transactions take the lock when they begin (_txlock=immediate),
// so concurrent writers wait (busy_timeout) instead of failing mid-transaction.
func Open(ctx context.Context, path string, log zerolog.Logger) (*DB, error) {
	return open(ctx, path, log, true)
}

// OpenCurrent opens the database at path as it is, for the commands that run beside a
// running Steward (steward audit, steward notify): it migrates nothing, since a newer
// binary must not change the tables under an older Steward that is using them, and it
// refuses a database whose migrations differ from this binary's.
func OpenCurrent(ctx context.Context, path string, log zerolog.Logger) (*DB, error) {
	return open(ctx, path, log, false)
}

func open(ctx context.Context, path string, log zerolog.Logger, migrate bool) (*DB, error) {
	raw, err := dbutil.NewWithDialect(fmt.Sprintf("file:%s?_txlock=immediate", path), "sqlite3-fk-wal-fullsync")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db := raw.Child("steward_version", upgrades.Table, dbutil.ZeroLogger(log.With().Str("db_section", "steward").Logger()))
	db.Owner = "steward"
	if migrate {
		err = db.Upgrade(ctx)
	} else {
		err = checkVersion(ctx, db)
	}
	if err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return &DB{
		Raw:    raw,
		db:     db,
		KV:     &KV{db: db},
		Inbox:  &Inbox{db: db},
		Outbox: &Outbox{db: db},
		Audit:  &Audit{db: db},

		Undecrypted: &Undecrypted{db: db},
		Approvals:   &Approvals{db: db},
		Alerts:      &Alerts{db: db},
		Silences:    &Silences{db: db},
		UpdateJobs:  &UpdateJobs{db: db},
		BackupRuns:  &BackupRuns{db: db},
		Tickets:     &Tickets{db: db},
		Jobs:        &Jobs{db: db},
	}, nil
}

// Close closes the database; serve defers it first so it runs last at shutdown,
// after every service has returned.
func (db *DB) Close() error {
	return db.Raw.Close()
}

// DoTxn runs fn in one transaction: the query types called with fn's context write
// together or not at all. Called within a transaction, fn joins it.
func (db *DB) DoTxn(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, inTxn := ctx.Value(commitHooksKey{}).(*commitHooks); inTxn {
		return db.db.DoTxn(ctx, nil, fn)
	}
	hooks := &commitHooks{}
	if err := db.db.DoTxn(context.WithValue(ctx, commitHooksKey{}, hooks), nil, fn); err != nil {
		return err
	}
	for _, hook := range hooks.fns {
		hook()
	}
	return nil
}

type commitHooksKey struct{}

type commitHooks struct{ fns []func() }

// AfterCommit runs fn once the transaction of ctx (begun by DB.DoTxn) has committed,
// or at once when ctx has none; it is dropped if the transaction fails. A worker woken
// before the commit would look for the new row too early and miss it.
func AfterCommit(ctx context.Context, fn func()) {
	if hooks, ok := ctx.Value(commitHooksKey{}).(*commitHooks); ok {
		hooks.fns = append(hooks.fns, fn)
		return
	}
	fn()
}

// checkVersion reports whether db's migrations are exactly this binary's.
func checkVersion(ctx context.Context, db *dbutil.Database) error {
	var version int
	err := db.QueryRow(ctx, "SELECT version FROM steward_version LIMIT 1").Scan(&version)
	if err != nil {
		return fmt.Errorf("read its version (has Steward started with it?): %w", err)
	}
	switch want := len(upgrades.Table); {
	case version < want:
		return fmt.Errorf("it is at version %d and this steward expects %d: start Steward itself once to bring it forward, or use the steward binary that runs now", version, want)
	case version > want:
		return fmt.Errorf("it is at version %d, newer than this steward knows (%d): use the steward binary that runs now", version, want)
	}
	return nil
}
