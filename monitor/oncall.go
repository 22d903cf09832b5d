package monitor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"
)

// Rotation is the order in which admins take turns on duty, and when they hand over.
type Rotation struct {
	Admins []id.UserID
	// Daily hands over every day; otherwise every week on Weekday.
	Daily   bool
	Weekday time.Weekday
	Hour    int
	Zone    *time.Location
}

// rotationEpoch anchors the turns, so everyone computes the same admin for a date.
var rotationEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Handover returns the latest handover at or before t.
func (r Rotation) Handover(t time.Time) time.Time {
	local := t.In(r.Zone)
	slot := time.Date(local.Year(), local.Month(), local.Day(), r.Hour, 0, 0, 0, r.Zone)
	if slot.After(t) {
		slot = time.Date(local.Year(), local.Month(), local.Day()-1, r.Hour, 0, 0, 0, r.Zone)
	}
	if !r.Daily {
		back := (int(slot.Weekday()) - int(r.Weekday) + 7) % 7
		slot = time.Date(slot.Year(), slot.Month(), slot.Day()-back, r.Hour, 0, 0, 0, r.Zone)
	}
	return slot
}

// Next returns the first handover after the one at handover.
func (r Rotation) Next(handover time.Time) time.Time {
	days := 7
	if r.Daily {
		days = 1
	}
	return time.Date(handover.Year(), handover.Month(), handover.Day()+days, r.Hour, 0, 0, 0, r.Zone)
}

// At returns whose turn it is at t by the rotation alone. Turns are counted in
// calendar days from a fixed date, so daylight-saving changes do not shift them.
func (r Rotation) At(t time.Time) id.UserID {
	if len(r.Admins) == 0 {
		return ""
	}
	h := r.Handover(t)
	days := int(time.Date(h.Year(), h.Month(), h.Day(), 0, 0, 0, 0, time.UTC).Sub(rotationEpoch).Hours() / 24)
	turn := days
	if !r.Daily {
		turn = days / 7
	}
	n := len(r.Admins)
	return r.Admins[((turn%n)+n)%n]
}

// KV is where a takeover is remembered (state.KV).
type KV interface {
	Get(ctx context.Context, key string) (string, error)
	Set(ctx context.Context, key, value string) error
}

// takeoverKey holds "user|until (Unix ms)": an admin who took over duty until the next
// handover.
const takeoverKey = "oncall_takeover"

// Duty is who is on duty and until when.
type Duty struct {
	Admin id.UserID
	Until time.Time
	// TookOver is set when Admin took over from the rotation's choice, Scheduled.
	TookOver  bool
	Scheduled id.UserID
}

// OnCall answers who is on duty: the rotation's admin, unless another admin took over
// until the next handover.
type OnCall struct {
	Rotation Rotation
	KV       KV
}

// HasRotation reports whether a rotation is configured.
func (o *OnCall) HasRotation() bool {
	return len(o.Rotation.Admins) > 0
}

// At returns who is on duty at t: a takeover that has not run out wins over the
// rotation. With no rotation it is the zero Duty; if the takeover can't be read, the
// rotation's admin comes with the error.
func (o *OnCall) At(ctx context.Context, t time.Time) (Duty, error) {
	if !o.HasRotation() {
		return Duty{}, nil
	}
	d := Duty{Admin: o.Rotation.At(t), Until: o.Rotation.Next(o.Rotation.Handover(t))}
	d.Scheduled = d.Admin
	raw, err := o.KV.Get(ctx, takeoverKey)
	if err != nil {
		return d, fmt.Errorf("read on-call takeover: %w", err)
	}
	if who, until, ok := strings.Cut(raw, "|"); ok {
		if ms, err := strconv.ParseInt(until, 10, 64); err == nil && t.Before(time.UnixMilli(ms)) {
			d.Admin, d.TookOver = id.UserID(who), true
		}
	}
	return d, nil
}

// Take makes who the admin on duty from t until the next handover.
func (o *OnCall) Take(ctx context.Context, who id.UserID, t time.Time) (Duty, error) {
	until := o.Rotation.Next(o.Rotation.Handover(t))
	if err := o.KV.Set(ctx, takeoverKey, string(who)+"|"+strconv.FormatInt(until.UnixMilli(), 10)); err != nil {
		return Duty{}, fmt.Errorf("record on-call takeover: %w", err)
	}
	return Duty{Admin: who, Until: until, TookOver: true, Scheduled: o.Rotation.At(t)}, nil
}
