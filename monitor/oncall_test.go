package monitor

import (
	"context"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

// fakeKV is state.KV over a map.
type fakeKV struct {
	mu     sync.Mutex
	values map[string]string
}

var _ KV = (*fakeKV)(nil)

func (f *fakeKV) Get(_ context.Context, key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.values[key], nil
}

func (f *fakeKV) Set(_ context.Context, key, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.values == nil {
		f.values = make(map[string]string)
	}
	f.values[key] = value
	return nil
}

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("load Europe/Berlin: %v", err)
	}
	return loc
}

func TestRotationHandover(t *testing.T) {
	loc := berlin(t)
	at := func(year int, month time.Month, day, hour, minute int) time.Time {
		return time.Date(year, month, day, hour, minute, 0, 0, loc)
	}
	utc := func(year int, month time.Month, day, hour, minute int) time.Time {
		return time.Date(year, month, day, hour, minute, 0, 0, time.UTC)
	}
	weekly := Rotation{Admins: everyAdmin, Weekday: time.Monday, Hour: 9, Zone: loc}
	sunday := Rotation{Admins: everyAdmin, Weekday: time.Sunday, Hour: 18, Zone: loc}
	daily := Rotation{Admins: everyAdmin, Daily: true, Hour: 9, Zone: loc}
	// Berlin goes to summer time (UTC+2) on Sunday 30 March 2025 and back to winter time
	// (UTC+1) on Sunday 26 October 2025.
	tests := []struct {
		name     string
		r        Rotation
		t        time.Time
		want     time.Time
		wantNext time.Time
	}{
		{"weekly, midweek", weekly, at(2025, 3, 19, 12, 0), at(2025, 3, 17, 9, 0), at(2025, 3, 24, 9, 0)},
		{"weekly, at the handover", weekly, at(2025, 3, 17, 9, 0), at(2025, 3, 17, 9, 0), at(2025, 3, 24, 9, 0)},
		{"weekly, a minute before it", weekly, at(2025, 3, 17, 8, 59), at(2025, 3, 10, 9, 0), at(2025, 3, 17, 9, 0)},
		{"weekly, Sunday night", weekly, at(2025, 3, 23, 23, 59), at(2025, 3, 17, 9, 0), at(2025, 3, 24, 9, 0)},
		// The week of the change is an hour short: the handover stays at 09:00 local.
		{"weekly, spring forward week", weekly, utc(2025, 3, 30, 12, 0), utc(2025, 3, 24, 8, 0), utc(2025, 3, 31, 7, 0)},
		{"weekly, after spring forward, before 09:00 local", weekly, utc(2025, 3, 31, 6, 59), utc(2025, 3, 24, 8, 0), utc(2025, 3, 31, 7, 0)},
		{"weekly, after spring forward, at 09:00 local", weekly, utc(2025, 3, 31, 7, 0), utc(2025, 3, 31, 7, 0), utc(2025, 4, 7, 7, 0)},
		{"weekly, fall back week", weekly, utc(2025, 10, 26, 12, 0), utc(2025, 10, 20, 7, 0), utc(2025, 10, 27, 8, 0)},
		{"weekly, after fall back, 08:30 local", weekly, utc(2025, 10, 27, 7, 30), utc(2025, 10, 20, 7, 0), utc(2025, 10, 27, 8, 0)},
		{"weekly on Sunday, Saturday", sunday, at(2025, 3, 29, 20, 0), at(2025, 3, 23, 18, 0), at(2025, 3, 30, 18, 0)},
		{"weekly on Sunday, Sunday evening", sunday, at(2025, 3, 30, 18, 30), at(2025, 3, 30, 18, 0), at(2025, 4, 6, 18, 0)},
		{"weekly, across a year", weekly, at(2025, 1, 1, 12, 0), at(2024, 12, 30, 9, 0), at(2025, 1, 6, 9, 0)},
		{"daily, afternoon", daily, at(2025, 6, 3, 15, 0), at(2025, 6, 3, 9, 0), at(2025, 6, 4, 9, 0)},
		{"daily, early morning", daily, at(2025, 6, 3, 8, 59), at(2025, 6, 2, 9, 0), at(2025, 6, 3, 9, 0)},
		{"daily, after midnight", daily, at(2025, 6, 3, 0, 30), at(2025, 6, 2, 9, 0), at(2025, 6, 3, 9, 0)},
		// 07:30 UTC is 08:30 in winter, 09:30 in summer.
		{"daily, the day before spring forward", daily, utc(2025, 3, 29, 7, 30), utc(2025, 3, 28, 8, 0), utc(2025, 3, 29, 8, 0)},
		{"daily, spring forward day", daily, utc(2025, 3, 30, 7, 30), utc(2025, 3, 30, 7, 0), utc(2025, 3, 31, 7, 0)},
		{"daily, spring forward night", daily, at(2025, 3, 30, 1, 30), utc(2025, 3, 29, 8, 0), utc(2025, 3, 30, 7, 0)},
		{"daily, fall back day", daily, utc(2025, 10, 26, 7, 30), utc(2025, 10, 25, 7, 0), utc(2025, 10, 26, 8, 0)},
		{"daily, the month's last day", daily, at(2025, 2, 28, 10, 0), at(2025, 2, 28, 9, 0), at(2025, 3, 1, 9, 0)},
	}
	for _, tt := range tests {
		h := tt.r.Handover(tt.t)
		if !h.Equal(tt.want) {
			t.Errorf("%s: Handover(%s) = %s, want %s", tt.name, tt.t.In(loc), h.In(loc), tt.want.In(loc))
		}
		if next := tt.r.Next(h); !next.Equal(tt.wantNext) {
			t.Errorf("%s: Next(%s) = %s, want %s", tt.name, h.In(loc), next.In(loc), tt.wantNext.In(loc))
		}
	}
}

// indexOf returns where who is in admins, or -1.
func indexOf(admins []id.UserID, who id.UserID) int {
	for i, a := range admins {
		if a == who {
			return i
		}
	}
	return -1
}

func TestRotationTakesTurnsInOrder(t *testing.T) {
	loc := berlin(t)
	tests := []struct {
		name  string
		r     Rotation
		first time.Time
	}{
		{"weekly", Rotation{Admins: everyAdmin, Weekday: time.Wednesday, Hour: 9, Zone: loc}, time.Date(2025, 1, 8, 12, 0, 0, 0, loc)},
		{"weekly across the spring forward", Rotation{Admins: everyAdmin, Weekday: time.Monday, Hour: 9, Zone: loc}, time.Date(2025, 3, 10, 9, 0, 0, 0, loc)},
		{"daily", Rotation{Admins: everyAdmin, Daily: true, Hour: 9, Zone: loc}, time.Date(2025, 6, 1, 12, 0, 0, 0, loc)},
		{"daily across the spring forward", Rotation{Admins: everyAdmin, Daily: true, Hour: 9, Zone: loc}, time.Date(2025, 3, 27, 9, 0, 0, 0, loc)},
		{"daily across the fall back", Rotation{Admins: everyAdmin, Daily: true, Hour: 9, Zone: loc}, time.Date(2025, 10, 23, 9, 0, 0, 0, loc)},
		{"daily across a new year", Rotation{Admins: everyAdmin, Daily: true, Hour: 9, Zone: loc}, time.Date(2025, 12, 29, 9, 0, 0, 0, loc)},
	}
	for _, tt := range tests {
		// Each turn starts at the handover after the previous one: the admin on duty
		// moves one step along the list, and back to the first after the last.
		turn := tt.first
		prev := indexOf(tt.r.Admins, tt.r.At(turn))
		if prev < 0 {
			t.Fatalf("%s: At(%s) = %q, not one of the admins", tt.name, turn, tt.r.At(turn))
		}
		seen := map[id.UserID]bool{tt.r.At(turn): true}
		for i := range 7 {
			turn = tt.r.Next(tt.r.Handover(turn))
			who := tt.r.At(turn)
			if got, want := indexOf(tt.r.Admins, who), (prev+1)%len(tt.r.Admins); got != want {
				t.Errorf("%s: turn %d (%s) is %q (admin %d), want admin %d after admin %d", tt.name, i+1, turn.In(loc), who, got, want, prev)
			}
			prev = indexOf(tt.r.Admins, who)
			seen[who] = true
		}
		if len(seen) != len(tt.r.Admins) {
			t.Errorf("%s: only %v took turns, want every admin", tt.name, seen)
		}
	}
}

func TestRotationIsTheSameAllDay(t *testing.T) {
	loc := berlin(t)
	daily := Rotation{Admins: everyAdmin, Daily: true, Hour: 9, Zone: loc}
	day := func(d, hour, minute int) time.Time { return time.Date(2025, 3, d, hour, minute, 0, 0, loc) }
	for _, d := range []int{28, 29, 30, 31} { // 30 March is 23 hours long
		want := daily.At(day(d, 9, 0))
		for _, tod := range [][2]int{{9, 0}, {9, 1}, {12, 0}, {18, 30}, {23, 59}} {
			if got := daily.At(day(d, tod[0], tod[1])); got != want {
				t.Errorf("At(%d March %02d:%02d) = %s, want %s as at 09:00", d, tod[0], tod[1], got, want)
			}
		}
		// Until the next handover, the night belongs to the same turn.
		if got := daily.At(day(d+1, 8, 59)); got != want {
			t.Errorf("At(%d March 08:59) = %s, want %s, still the turn of the day before", d+1, got, want)
		}
		if got := daily.At(day(d, 8, 59)); got == want {
			t.Errorf("At(%d March 08:59) = %s, the admin of the turn that starts at 09:00", d, got)
		}
	}
	weekly := Rotation{Admins: everyAdmin, Weekday: time.Monday, Hour: 9, Zone: loc}
	want := weekly.At(time.Date(2025, 3, 24, 9, 0, 0, 0, loc))
	for d := 24; d <= 30; d++ {
		for _, hour := range []int{0, 9, 23} {
			if d == 24 && hour == 0 {
				continue
			}
			if got := weekly.At(time.Date(2025, 3, d, hour, 0, 0, 0, loc)); got != want {
				t.Errorf("weekly At(%d March %02d:00) = %s, want %s for the whole week", d, hour, got, want)
			}
		}
	}
	if got := weekly.At(time.Date(2025, 3, 31, 9, 0, 0, 0, loc)); got == want {
		t.Errorf("weekly At(31 March 09:00) = %s, want the next admin after the handover", got)
	}
}

func TestOnCallTakeover(t *testing.T) {
	ctx := t.Context()
	r := Rotation{Admins: everyAdmin, Weekday: time.Monday, Hour: 9, Zone: time.UTC}
	oc := &OnCall{Rotation: r, KV: &fakeKV{}}
	wednesday := time.Date(2025, 6, 4, 12, 0, 0, 0, time.UTC)
	handover := time.Date(2025, 6, 9, 9, 0, 0, 0, time.UTC)
	scheduled := r.At(wednesday)
	next := r.At(handover)
	taker := everyAdmin[(indexOf(everyAdmin, scheduled)+2)%len(everyAdmin)] // neither this week's nor next week's admin
	if taker == scheduled || taker == next {
		t.Fatalf("bad test: taker %s is on the rotation this week or the next", taker)
	}

	d, err := oc.At(ctx, wednesday)
	if want := (Duty{Admin: scheduled, Until: handover, Scheduled: scheduled}); err != nil || d != want {
		t.Fatalf("At before a takeover = %+v, %v; want %+v", d, err, want)
	}
	d, err = oc.Take(ctx, taker, wednesday)
	if want := (Duty{Admin: taker, Until: handover, TookOver: true, Scheduled: scheduled}); err != nil || d != want {
		t.Errorf("Take = %+v, %v; want %+v", d, err, want)
	}
	for _, when := range []time.Time{wednesday, wednesday.Add(time.Hour), handover.Add(-time.Minute)} {
		d, err := oc.At(ctx, when)
		if want := (Duty{Admin: taker, Until: handover, TookOver: true, Scheduled: scheduled}); err != nil || d != want {
			t.Errorf("At(%s) after the takeover = %+v, %v; want %+v", when, d, err, want)
		}
	}
	for _, when := range []time.Time{handover, handover.Add(3 * 24 * time.Hour)} {
		d, err := oc.At(ctx, when)
		if err != nil || d.Admin != next || d.TookOver {
			t.Errorf("At(%s), after the handover = %+v, %v; want %s from the rotation", when, d, err, next)
		}
	}

	// Another admin takes over from the one who took over.
	oc2 := &OnCall{Rotation: r, KV: oc.KV} // as after a restart: the takeover is in the KV
	if _, err := oc2.Take(ctx, scheduled, wednesday.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d, err := oc.At(ctx, wednesday.Add(3*time.Hour)); err != nil || d.Admin != scheduled {
		t.Errorf("At after the scheduled admin took it back = %+v, %v; want %s", d, err, scheduled)
	}
}

func TestOnCallWithoutAdminsHasNoRotation(t *testing.T) {
	oc := &OnCall{} // no KV either: nothing should be read
	if oc.HasRotation() {
		t.Error("HasRotation() = true without admins")
	}
	if d, err := oc.At(t.Context(), time.Now()); err != nil || d != (Duty{}) {
		t.Errorf("At without a rotation = %+v, %v; want nobody", d, err)
	}
	if r := (Rotation{Zone: time.UTC}); r.At(time.Now()) != "" {
		t.Errorf("Rotation without admins names %q", r.At(time.Now()))
	}
}
