package monitor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Store keeps the alerts (state.Alerts).
type Store interface {
	Insert(ctx context.Context, a *state.Alert) error
	Update(ctx context.Context, a *state.Alert) error
	Delete(ctx context.Context, alertID int64) error
	Open(ctx context.Context, check string) ([]*state.Alert, error)
	Get(ctx context.Context, alertID int64) (*state.Alert, error)
	OnMessage(ctx context.Context, msgID int64) ([]*state.Alert, error)
	ByMessageEvent(ctx context.Context, eventID id.EventID) ([]*state.Alert, error)
	Unposted(ctx context.Context) ([]*state.Alert, error)
	Since(ctx context.Context, t time.Time) ([]*state.Alert, error)
}

// Messenger queues messages through the bot's outbox; within a transaction of the
// context, with the rest of it.
type Messenger interface {
	Post(ctx context.Context, roomID id.RoomID, replyTo, threadRoot id.EventID, msg *render.Message) (int64, error)
	Edit(ctx context.Context, roomID id.RoomID, msgID int64, msg *render.Message) error
	React(ctx context.Context, roomID id.RoomID, msgID int64, key string) error
	// FollowUp replies to the earlier queued message msgID, notifying mentions.
	FollowUp(ctx context.Context, roomID id.RoomID, msgID int64, msg *render.Message, mentions ...id.UserID) error
	// Announce posts to roomID as an ordinary message that notifies its members.
	Announce(ctx context.Context, roomID id.RoomID, msg *render.Message) error
}

// Recorder writes the decision log (state.Audit).
type Recorder interface {
	Append(ctx context.Context, e *state.AuditEntry) (int64, error)
}

// ReactionAck is the reaction that takes an alert.
const ReactionAck = "👀"

// maxListed bounds the alerts one message lists, so a storm stays one readable message.
const maxListed = 15

// Settings are the parts of the configuration the engine needs.
type Settings struct {
	// AdminRoom is where alerts go.
	AdminRoom id.RoomID
	// Prefix is the command prefix, for the hints in messages.
	Prefix string
	// BotUserID is Steward's own account, the actor of what happens by itself (a
	// silence running out).
	BotUserID id.UserID
	// GroupWait is how long alerts that fire together are gathered into one message.
	GroupWait time.Duration
	// GroupRoom is where members are told about public problems.
	GroupRoom id.RoomID
	// AnnounceAfter is how long a public problem lasts before members are told.
	AnnounceAfter time.Duration
	// EscalateAfter is how long a critical alert may go untaken before the admin on
	// duty is called (every admin after twice that); 0 never escalates.
	EscalateAfter time.Duration
	// Admins are called when nobody on duty took an alert.
	Admins []id.UserID
	// OnDuty returns the admin on duty at a time, and false when there is no rotation.
	OnDuty func(ctx context.Context, t time.Time) (id.UserID, bool)
	// Upstream, when set, is told of silences over the alerts of its source
	// (Alertmanager, with alertmanager.url), so that it stops sending them.
	Upstream Upstream
}

// Engine turns observations into alerts and keeps them: it decides when a problem
// fires (it lasted its "for" duration) and when it is resolved (its check no longer
// reports it), writes each change to SQLite together with the message that shows it,
// and gathers alerts that fire together into one message.
type Engine struct {
	settingsMu sync.RWMutex
	settings   Settings
	store      Store
	silences   SilenceStore
	msgr       Messenger
	audit      Recorder
	txn        func(ctx context.Context, fn func(ctx context.Context) error) error
	now        func() time.Time
	// fired is signalled when an alert fires, for the loop that posts them.
	fired chan struct{}
}

// NewEngine builds an engine. txn runs a function in one database transaction; now is
// the clock.
func NewEngine(settings Settings, store Store, silences SilenceStore, msgr Messenger, audit Recorder,
	txn func(ctx context.Context, fn func(ctx context.Context) error) error, now func() time.Time) *Engine {
	return &Engine{settings: settings, store: store, silences: silences, msgr: msgr, audit: audit, txn: txn, now: now, fired: make(chan struct{}, 1)}
}

// conf returns the settings in force under the lock, since Reconfigure may swap them
// while a round runs.
func (e *Engine) conf() Settings {
	e.settingsMu.RLock()
	defer e.settingsMu.RUnlock()
	return e.settings
}

// Reconfigure replaces the settings, for a reloaded config; what runs next uses them.
func (e *Engine) Reconfigure(settings Settings) {
	e.settingsMu.Lock()
	e.settings = settings
	e.settingsMu.Unlock()
}

// checkFailedPrefix starts the fingerprint of the alert raised when a check itself
// fails (the Docker Engine unreachable, a disk gone).
const checkFailedPrefix = "check:"

// Apply takes one round of a check: its observations, or the error that kept it from
// observing. A problem it reports opens an alert (pending, then firing once it lasted
// its "for" duration) or updates the open one; an open alert it no longer reports is
// resolved. When the check failed, its open alerts it did not report stay as they are
// (nobody knows), what it did report counts, and the failure is an alert of its own.
func (e *Engine) Apply(ctx context.Context, check string, observations []Observation, checkErr error) error {
	if checkErr != nil {
		// What it could read still counts; what it couldn't is its own alert.
		observations = append(slices.Clone(observations), Observation{
			Fingerprint: checkFailedPrefix + check, Subject: check, Severity: state.SeverityWarning,
			Summary: fmt.Sprintf("Steward can't run its %s check", check), Value: checkErr.Error(),
		})
	}
	err := e.change(ctx, check, observations, func(a *state.Alert, seen bool) bool {
		return !seen && (checkErr == nil || a.Fingerprint == checkFailedPrefix+check)
	})
	if err != nil {
		return fmt.Errorf("apply %s check: %w", check, err)
	}
	return nil
}

// Report takes what a source outside Steward says has changed (Alertmanager's webhook,
// a job's ping): the problems in firing open or update their alerts as Apply's do, the
// open alerts whose fingerprints are in resolved are resolved, and every other open
// alert of the source stays as it is, since the sender only says what changed. A
// problem repeated as it was changes nothing, so a sender's repeats and retries post
// nothing new.
func (e *Engine) Report(ctx context.Context, source string, firing []Observation, resolved []string) error {
	gone := make(map[string]bool, len(resolved))
	for _, fp := range resolved {
		gone[fp] = true
	}
	err := e.change(ctx, source, firing, func(a *state.Alert, seen bool) bool { return !seen && gone[a.Fingerprint] })
	if err != nil {
		return fmt.Errorf("record %s alerts: %w", source, err)
	}
	return nil
}

// change records observations of check in one transaction, resolving the open alerts
// for which resolves says so (given whether they were observed now), and then edits
// each message that shows a changed alert once, however many of its alerts changed.
func (e *Engine) change(ctx context.Context, check string, observations []Observation, resolves func(a *state.Alert, seen bool) bool) error {
	now := e.now()
	var ch *changes
	err := e.txn(ctx, func(ctx context.Context) error {
		ch = newChanges()
		open, err := e.store.Open(ctx, check)
		if err != nil {
			return err
		}
		byFingerprint := make(map[string]*state.Alert, len(open))
		for _, a := range open {
			byFingerprint[a.Fingerprint] = a
		}
		seen := make(map[string]bool, len(observations))
		for _, o := range observations {
			a := byFingerprint[o.Fingerprint]
			var prev state.Severity
			if a != nil {
				prev = a.Severity
			}
			severity := o.Severity
			if o.Level != nil {
				severity = o.Level(prev)
			}
			if severity == state.SeverityOK || seen[o.Fingerprint] {
				continue
			}
			seen[o.Fingerprint] = true
			if err := e.observe(ctx, ch, check, a, &o, severity, now); err != nil {
				return err
			}
		}
		for _, a := range open {
			if !resolves(a, seen[a.Fingerprint]) {
				continue
			}
			if err = e.resolve(ctx, ch, a, now); err != nil {
				return err
			}
		}
		return e.publish(ctx, ch, now)
	})
	if err != nil {
		return err
	}
	if ch.fired {
		select {
		case e.fired <- struct{}{}:
		default:
		}
	}
	return nil
}

// changes gathers what one transaction did to alerts already shown, so that each
// message is edited once and gets one follow-up, not one per alert: a storm of a
// thousand alerts resolving at once is one edit and one line.
type changes struct {
	// edit are the messages whose alerts changed.
	edit map[int64]bool
	// resolved are the alerts resolved, by the message that shows them.
	resolved map[int64][]*state.Alert
	// fired is set when an alert began firing.
	fired bool
}

func newChanges() *changes {
	return &changes{edit: map[int64]bool{}, resolved: map[int64][]*state.Alert{}}
}

// observe records one reported problem; ch learns whether it began firing and whether
// its message must show a new severity.
func (e *Engine) observe(ctx context.Context, ch *changes, check string, a *state.Alert, o *Observation, severity state.Severity, now time.Time) error {
	if a == nil {
		a = &state.Alert{
			Fingerprint: o.Fingerprint, Check: check, Subject: o.Subject, Severity: severity, Worst: severity,
			State: state.AlertPending, Summary: o.Summary, Value: o.Value, Hint: o.Hint, Public: o.Public,
			Labels: o.Labels, Link: o.Link, Detail: o.Detail, Since: now, UpdatedAt: now,
		}
		if o.For > 0 {
			return e.store.Insert(ctx, a)
		}
		a.State, a.FiredAt = state.AlertFiring, now
		zerolog.Ctx(ctx).Info().Str("fingerprint", a.Fingerprint).Stringer("severity", severity).Msg("Alert firing")
		ch.fired = true
		return e.store.Insert(ctx, a)
	}
	if a.Severity == severity && a.Summary == o.Summary && a.Value == o.Value && a.Hint == o.Hint && a.Public == o.Public &&
		a.Link == o.Link && a.Detail == o.Detail && maps.Equal(a.Labels, o.Labels) && (a.State != state.AlertPending || now.Sub(a.Since) < o.For) {
		return nil // a repeat: nothing to write
	}
	changed := severity != a.Severity
	a.Severity, a.Worst = severity, max(a.Worst, severity)
	a.Summary, a.Value, a.Hint, a.Public, a.UpdatedAt = o.Summary, o.Value, o.Hint, o.Public, now
	a.Labels, a.Link, a.Detail = o.Labels, o.Link, o.Detail
	if a.State == state.AlertPending && now.Sub(a.Since) >= o.For {
		a.State, a.FiredAt, ch.fired = state.AlertFiring, now, true
		zerolog.Ctx(ctx).Info().Str("fingerprint", a.Fingerprint).Stringer("severity", severity).Msg("Alert firing")
	}
	if err := e.store.Update(ctx, a); err != nil {
		return err
	}
	if changed && a.Message != 0 {
		ch.edit[a.Message] = true
	}
	return nil
}

// resolve closes an open alert that its check no longer reports (or its sender says
// is resolved). One that never fired is forgotten; one that was shown is left in ch,
// for its message to be edited and followed up, so the room reads as a history.
func (e *Engine) resolve(ctx context.Context, ch *changes, a *state.Alert, now time.Time) error {
	if a.State == state.AlertPending {
		return e.store.Delete(ctx, a.ID)
	}
	a.State, a.ResolvedAt, a.UpdatedAt = state.AlertResolved, now, now
	if err := e.store.Update(ctx, a); err != nil {
		return err
	}
	zerolog.Ctx(ctx).Info().Str("fingerprint", a.Fingerprint).Msg("Alert resolved")
	if a.Announced && e.conf().GroupRoom != "" {
		if err := e.msgr.Announce(ctx, e.conf().GroupRoom, render.New("✅ ").Bold(a.Subject).Text(" is working again.")); err != nil {
			return err
		}
	}
	if a.Message == 0 {
		return nil // resolved before it was posted: the digest still counts it
	}
	ch.edit[a.Message] = true
	ch.resolved[a.Message] = append(ch.resolved[a.Message], a)
	return nil
}

// publish edits the messages ch changed, in the order they were posted, and follows
// each up with what resolved: the alert by name, or a count when several did.
func (e *Engine) publish(ctx context.Context, ch *changes, now time.Time) error {
	for _, msgID := range slices.Sorted(maps.Keys(ch.edit)) {
		if err := e.editMessage(ctx, msgID); err != nil {
			return err
		}
		resolved := ch.resolved[msgID]
		var note *render.Message
		switch len(resolved) {
		case 0:
			continue
		case 1:
			a := resolved[0]
			note = render.New("✅ Resolved: ").Text(a.Summary).
				Text(fmt.Sprintf(" (#%d), after %s.", a.ID, render.Duration(now.Sub(a.FiredAt))))
		default:
			ids := make([]string, 0, min(len(resolved), maxListed))
			for i, a := range resolved {
				if i == maxListed {
					ids = append(ids, "…")
					break
				}
				ids = append(ids, "#"+strconv.FormatInt(a.ID, 10))
			}
			note = render.New(fmt.Sprintf("✅ Resolved: %d alerts (%s).", len(resolved), strings.Join(ids, ", ")))
		}
		if err := e.msgr.FollowUp(ctx, e.conf().AdminRoom, msgID, note); err != nil {
			return err
		}
	}
	return nil
}

// editMessage rewrites the message msgID to show its alerts as they are now.
func (e *Engine) editMessage(ctx context.Context, msgID int64) error {
	alerts, err := e.store.OnMessage(ctx, msgID)
	if err != nil || len(alerts) == 0 {
		return err
	}
	sil, err := e.silencer(ctx)
	if err != nil {
		return err
	}
	return e.msgr.Edit(ctx, e.conf().AdminRoom, msgID, e.render(alerts, sil))
}

// Fired is signalled when an alert starts firing.
func (e *Engine) Fired() <-chan struct{} {
	return e.fired
}

// Flush posts the firing alerts that wait for their message, all in one, once the
// oldest of them has waited GroupWait: a storm of alerts becomes one message. It
// returns how long to wait before the next flush is due (0 when nothing waits).
func (e *Engine) Flush(ctx context.Context) (time.Duration, error) {
	var wait time.Duration
	err := e.txn(ctx, func(ctx context.Context) error {
		wait = 0
		waiting, err := e.store.Unposted(ctx)
		if err != nil || len(waiting) == 0 {
			return err
		}
		sil, err := e.silencer(ctx)
		if err != nil {
			return err
		}
		// Silenced alerts wait until their silence ends.
		now := e.now()
		var unposted []*state.Alert
		for _, a := range waiting {
			if sil.of(a, now) == nil {
				unposted = append(unposted, a)
			}
		}
		if len(unposted) == 0 {
			return nil
		}
		if due := unposted[0].FiredAt.Add(e.conf().GroupWait); now.Before(due) {
			wait = due.Sub(now)
			return nil
		}
		msgID, err := e.msgr.Post(ctx, e.conf().AdminRoom, "", "", e.render(unposted, sil))
		if err != nil {
			return err
		}
		for _, a := range unposted {
			a.Message = msgID
			if err = e.store.Update(ctx, a); err != nil {
				return err
			}
		}
		return e.msgr.React(ctx, e.conf().AdminRoom, msgID, ReactionAck)
	})
	return wait, err
}

// Actor is who does something to an alert, for the message and the decision log.
type Actor struct {
	UserID   id.UserID
	DeviceID id.DeviceID
	RoomID   id.RoomID
	EventID  id.EventID
}

// NotOpenError is returned for an alert ID that names no firing alert.
type NotOpenError struct{ ID int64 }

// Error is worded for the admin who typed the ID: !ack answers with it as it is.
func (e *NotOpenError) Error() string { return fmt.Sprintf("#%d is not an open alert", e.ID) }

// Ack records that by took the alerts alertIDs: the messages that show them say so,
// and the decision log has it. It returns the alerts acknowledged now; alerts already
// acknowledged keep their first taker.
func (e *Engine) Ack(ctx context.Context, alertIDs []int64, by Actor) ([]*state.Alert, error) {
	var acked []*state.Alert
	err := e.txn(ctx, func(ctx context.Context) error {
		acked = nil
		alerts := make([]*state.Alert, 0, len(alertIDs))
		for _, alertID := range slices.Compact(slices.Sorted(slices.Values(alertIDs))) {
			a, err := e.store.Get(ctx, alertID)
			if err != nil {
				return err
			}
			if a == nil || a.State != state.AlertFiring {
				return &NotOpenError{ID: alertID}
			}
			alerts = append(alerts, a)
		}
		return e.ack(ctx, alerts, by, &acked)
	})
	return acked, err
}

// OpenAlerts returns the pending and firing alerts, oldest first, for !alerts and
// for turning an alert number typed in !silence into its fingerprint.
func (e *Engine) OpenAlerts(ctx context.Context) ([]*state.Alert, error) {
	return e.store.Open(ctx, "")
}

// ShowsAlerts reports whether the message that became eventID shows any alert, so a 👀
// on it that may not act can be answered, and one on any other message ignored.
func (e *Engine) ShowsAlerts(ctx context.Context, eventID id.EventID) (bool, error) {
	alerts, err := e.store.ByMessageEvent(ctx, eventID)
	return len(alerts) > 0, err
}

// AckMessage is Ack for every open alert shown in the message that became eventID (a
// 👀 reaction to it). It returns nil when eventID shows no alert.
func (e *Engine) AckMessage(ctx context.Context, eventID id.EventID, by Actor) ([]*state.Alert, bool, error) {
	var acked []*state.Alert
	found := false
	err := e.txn(ctx, func(ctx context.Context) error {
		acked = nil
		alerts, err := e.store.ByMessageEvent(ctx, eventID)
		if err != nil {
			return err
		}
		found = len(alerts) > 0
		var open []*state.Alert
		for _, a := range alerts {
			if a.State == state.AlertFiring {
				open = append(open, a)
			}
		}
		return e.ack(ctx, open, by, &acked)
	})
	return acked, found, err
}

func (e *Engine) ack(ctx context.Context, alerts []*state.Alert, by Actor, acked *[]*state.Alert) error {
	now := e.now()
	messages := make(map[int64]bool)
	for _, a := range alerts {
		if a.AckedBy != "" {
			continue
		}
		a.AckedBy, a.AckedAt = by.UserID, now
		if err := e.store.Update(ctx, a); err != nil {
			return err
		}
		if _, err := e.audit.Append(ctx, &state.AuditEntry{
			Actor: by.UserID, ActorDevice: by.DeviceID, RoomID: by.RoomID, EventID: by.EventID,
			Action: "alert.ack", Arguments: "#" + strconv.FormatInt(a.ID, 10) + " " + a.Fingerprint, Outcome: state.OutcomeOK, Detail: a.Summary,
		}); err != nil {
			return err
		}
		if a.Message != 0 {
			messages[a.Message] = true
		}
		*acked = append(*acked, a)
	}
	for msgID := range messages {
		if err := e.editMessage(ctx, msgID); err != nil {
			return err
		}
	}
	return nil
}
