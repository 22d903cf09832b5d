package state

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// Silence holds back alerts whose fingerprint matches Matcher until EndsAt.
type Silence struct {
	ID int64
	// Matcher is a glob over fingerprints: "disk:/var", "http:wiki:*", "*".
	Matcher   string
	Reason    string
	CreatedBy id.UserID
	CreatedAt time.Time
	EndsAt    time.Time
	// EndedAt is set once it ended, by time or by EndedBy.
	EndedAt time.Time
	EndedBy id.UserID
	// Maintenance marks a maintenance window, which members are told about.
	Maintenance bool
	// Warned is set once the admins were told it is about to end.
	Warned bool
	// Upstream is the ID of the silence made for it in Alertmanager, '' for none.
	Upstream string
	// Settled is set once, after it ended, the alerts it held back that resolved
	// upstream meanwhile were resolved here too.
	Settled bool
}

// Silences keeps silences, so a restart does not wake alerts someone silenced.
type Silences struct {
	db *dbutil.Database
}

const silenceColumns = "id, matcher, reason, created_by, created_at, ends_at, ended_at, ended_by, maintenance, warned, upstream, settled"

// Add stores s and sets s.ID.
func (si *Silences) Add(ctx context.Context, s *Silence) error {
	err := si.db.QueryRow(ctx, `INSERT INTO silence (matcher, reason, created_by, created_at, ends_at, maintenance)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		s.Matcher, s.Reason, s.CreatedBy, s.CreatedAt.UnixMilli(), s.EndsAt.UnixMilli(), s.Maintenance).Scan(&s.ID)
	if err != nil {
		return fmt.Errorf("store silence: %w", err)
	}
	return nil
}

// End marks silence silenceID ended at t by by ("" for its time running out), and
// reports whether it was still running.
func (si *Silences) End(ctx context.Context, silenceID int64, t time.Time, by id.UserID) (bool, error) {
	res, err := si.db.Exec(ctx, "UPDATE silence SET ended_at=$1, ended_by=$2 WHERE id=$3 AND ended_at=0", t.UnixMilli(), by, silenceID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetUpstream records the ID of the silence made for silenceID in Alertmanager.
func (si *Silences) SetUpstream(ctx context.Context, silenceID int64, upstream string) error {
	_, err := si.db.Exec(ctx, "UPDATE silence SET upstream=$1 WHERE id=$2", upstream, silenceID)
	return err
}

// Unsettled returns the ended silences with an upstream whose alerts were not settled
// yet (MarkSettled), oldest first.
func (si *Silences) Unsettled(ctx context.Context) ([]*Silence, error) {
	return si.list(ctx, "WHERE ended_at<>0 AND upstream<>'' AND NOT settled ORDER BY id")
}

// MarkSettled records that silenceID's alerts were settled with its upstream.
func (si *Silences) MarkSettled(ctx context.Context, silenceID int64) error {
	_, err := si.db.Exec(ctx, "UPDATE silence SET settled=true WHERE id=$1", silenceID)
	return err
}

// MarkWarned records that the admins were told silenceID is about to end.
func (si *Silences) MarkWarned(ctx context.Context, silenceID int64) error {
	_, err := si.db.Exec(ctx, "UPDATE silence SET warned=true WHERE id=$1", silenceID)
	return err
}

// Running returns the silences not ended yet (some may be past their end, waiting to
// be closed), oldest first.
func (si *Silences) Running(ctx context.Context) ([]*Silence, error) {
	return si.list(ctx, "WHERE ended_at=0 ORDER BY id")
}

// Get returns silence silenceID, or nil.
func (si *Silences) Get(ctx context.Context, silenceID int64) (*Silence, error) {
	list, err := si.list(ctx, "WHERE id=$1", silenceID)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return list[0], nil
}

func (si *Silences) list(ctx context.Context, where string, args ...any) ([]*Silence, error) {
	rows, err := si.db.Query(ctx, "SELECT "+silenceColumns+" FROM silence "+where, args...)
	return dbutil.NewRowIterWithError(rows, func(row dbutil.Scannable) (*Silence, error) {
		var s Silence
		var createdAt, endsAt, endedAt int64
		err := row.Scan(&s.ID, &s.Matcher, &s.Reason, &s.CreatedBy, &createdAt, &endsAt, &endedAt, &s.EndedBy, &s.Maintenance, &s.Warned, &s.Upstream, &s.Settled)
		s.CreatedAt, s.EndsAt, s.EndedAt = time.UnixMilli(createdAt), time.UnixMilli(endsAt), fromMS(endedAt)
		return &s, err
	}, err).AsList()
}
