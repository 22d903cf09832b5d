package monitor

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// SilenceStore keeps silences (state.Silences).
type SilenceStore interface {
	Add(ctx context.Context, s *state.Silence) error
	End(ctx context.Context, silenceID int64, t time.Time, by id.UserID) (bool, error)
	MarkWarned(ctx context.Context, silenceID int64) error
	SetUpstream(ctx context.Context, silenceID int64, upstream string) error
	Unsettled(ctx context.Context) ([]*state.Silence, error)
	MarkSettled(ctx context.Context, silenceID int64) error
	Running(ctx context.Context) ([]*state.Silence, error)
	Get(ctx context.Context, silenceID int64) (*state.Silence, error)
}

// silenceWarning is how long before its end a silence is announced, so whoever set it
// can extend it before the alerts it holds back come out.
const silenceWarning = 5 * time.Minute

// Matches reports whether the glob matcher covers fingerprint: * stands for any run
// of characters (slashes and newlines included, as in "disk:/var/*"), ? for one.
// It walks the two strings instead of compiling a regular expression: the silencer
// asks for every alert and every running silence, and no matcher can make it fail (a
// matcher that is not UTF-8 made regexp.MustCompile panic; the fuzzer found it).
func Matches(matcher, fingerprint string) bool {
	m, s := matcher, fingerprint
	i, j := 0, 0
	// star is the index in m of the last * seen, -1 before any, and from is where
	// in s what it stands for ends so far: on a mismatch it takes one more character.
	star, from := -1, 0
	for j < len(s) {
		if i < len(m) {
			switch m[i] {
			case '*':
				star, from = i, j
				i++
				continue
			case '?':
				_, size := utf8.DecodeRuneInString(s[j:])
				i, j = i+1, j+size
				continue
			default:
				if m[i] == s[j] {
					i, j = i+1, j+1
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		_, size := utf8.DecodeRuneInString(s[from:])
		from += size
		i, j = star+1, from
	}
	for i < len(m) && m[i] == '*' {
		i++
	}
	return i == len(m)
}

// silencer tells which running silence holds back an alert.
type silencer []*state.Silence

func (s silencer) of(a *state.Alert, now time.Time) *state.Silence {
	for _, si := range s {
		if now.Before(si.EndsAt) && Matches(si.Matcher, a.Fingerprint) {
			return si
		}
	}
	return nil
}

func (e *Engine) silencer(ctx context.Context) (silencer, error) {
	if e.silences == nil {
		return nil, nil
	}
	return e.silences.Running(ctx)
}

// Silence holds back the alerts s matches until s.EndsAt: they are still recorded, but
// not posted, escalated or announced. Messages already posted say so. A maintenance
// window also tells the group room. It returns the open alerts it matches now.
func (e *Engine) Silence(ctx context.Context, s *state.Silence, by Actor) ([]*state.Alert, error) {
	var matched []*state.Alert
	err := e.txn(ctx, func(ctx context.Context) error {
		matched = nil
		if err := e.silences.Add(ctx, s); err != nil {
			return err
		}
		action := "silence.add"
		if s.Maintenance {
			action = "maintenance.start"
		}
		if _, err := e.audit.Append(ctx, &state.AuditEntry{
			Actor: by.UserID, ActorDevice: by.DeviceID, RoomID: by.RoomID, EventID: by.EventID, Action: action,
			Arguments: fmt.Sprintf("#%d %s until %s", s.ID, s.Matcher, s.EndsAt.UTC().Format(time.RFC3339)), Outcome: state.OutcomeOK, Detail: s.Reason,
		}); err != nil {
			return err
		}
		if s.Maintenance && e.conf().GroupRoom != "" {
			if err := e.msgr.Announce(ctx, e.conf().GroupRoom, render.New("🛠️ ").Bold("Maintenance until "+clock(s.EndsAt)+": ").
				Text(s.Reason+". Some services may be unavailable meanwhile; I'll say here when it is over.")); err != nil {
				return err
			}
		}
		var err error
		matched, err = e.editMatching(ctx, s.Matcher)
		return err
	})
	return matched, err
}

// Unsilence ends silence silenceID now; the alerts it held back come out.
func (e *Engine) Unsilence(ctx context.Context, silenceID int64, by Actor) (*state.Silence, error) {
	var s *state.Silence
	err := e.txn(ctx, func(ctx context.Context) error {
		var err error
		if s, err = e.silences.Get(ctx, silenceID); err != nil {
			return err
		}
		if s == nil || !s.EndedAt.IsZero() {
			s = nil
			return nil
		}
		return e.endSilence(ctx, s, by, "")
	})
	if s != nil {
		e.wakeFlush()
	}
	return s, err
}

// RunningSilences returns the silences not ended yet, oldest first; one may be past
// its end and not closed yet, so a caller that cares checks EndsAt.
func (e *Engine) RunningSilences(ctx context.Context) ([]*state.Silence, error) {
	return e.silences.Running(ctx)
}

// endSilence closes s, records it and tells who needs to know.
func (e *Engine) endSilence(ctx context.Context, s *state.Silence, by Actor, how string) error {
	now := e.now()
	ended, err := e.silences.End(ctx, s.ID, now, by.UserID)
	if err != nil || !ended {
		return err
	}
	s.EndedAt, s.EndedBy = now, by.UserID
	action := "silence.end"
	if s.Maintenance {
		action = "maintenance.end"
	}
	actor := by.UserID
	if actor == "" {
		actor = e.conf().BotUserID
	}
	if _, err = e.audit.Append(ctx, &state.AuditEntry{
		Actor: actor, ActorDevice: by.DeviceID, RoomID: by.RoomID, EventID: by.EventID, Action: action,
		Arguments: "#" + strconv.FormatInt(s.ID, 10) + " " + s.Matcher, Outcome: state.OutcomeOK, Detail: how,
	}); err != nil {
		return err
	}
	if s.Maintenance && e.conf().GroupRoom != "" {
		running, err := e.silences.Running(ctx)
		if err != nil {
			return err
		}
		extended := slices.ContainsFunc(running, func(other *state.Silence) bool {
			return other.ID != s.ID && other.Maintenance && now.Before(other.EndsAt)
		})
		if !extended { // another window carries the maintenance on
			if err = e.msgr.Announce(ctx, e.conf().GroupRoom, render.New("✅ Maintenance is over.")); err != nil {
				return err
			}
		}
	}
	if by.UserID == "" {
		kind := "Silence"
		if s.Maintenance {
			kind = "Maintenance window"
		}
		if err = e.say(ctx, render.New(fmt.Sprintf("🔕 %s #%d on ", kind, s.ID)).Code(s.Matcher).
			Text(" has ended; alerts it held back come out now.")); err != nil {
			return err
		}
	}
	_, err = e.editMatching(ctx, s.Matcher)
	return err
}

// editMatching re-renders the posted messages of open alerts matcher covers and
// returns those alerts.
func (e *Engine) editMatching(ctx context.Context, matcher string) ([]*state.Alert, error) {
	open, err := e.store.Open(ctx, "")
	if err != nil {
		return nil, err
	}
	var matched []*state.Alert
	messages := make(map[int64]bool)
	for _, a := range open {
		if !Matches(matcher, a.Fingerprint) {
			continue
		}
		matched = append(matched, a)
		if a.Message != 0 && !messages[a.Message] {
			messages[a.Message] = true
			if err = e.editMessage(ctx, a.Message); err != nil {
				return nil, err
			}
		}
	}
	return matched, nil
}

// tickSilences warns about silences about to end and closes those that did, and
// returns those.
//
// The upstream silences of one that ends by itself are not expired: they were made
// with the same end (SilenceUpstream), so Alertmanager ends them by itself at the
// same moment. What they held back that resolved meanwhile is settled after (Tick).
func (e *Engine) tickSilences(ctx context.Context, now time.Time) (ended []*state.Silence, err error) {
	running, err := e.silencer(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range running {
		switch {
		case !now.Before(s.EndsAt):
			if err = e.endSilence(ctx, s, Actor{}, "expired"); err != nil {
				return nil, err
			}
			ended = append(ended, s)
		case !s.Warned && s.EndsAt.Sub(now) <= silenceWarning:
			if err = e.silences.MarkWarned(ctx, s.ID); err != nil {
				return nil, err
			}
			zerolog.Ctx(ctx).Info().Int64("silence_id", s.ID).Msg("Silence about to end")
			kind, again := "Silence", "Silence again to extend it."
			if s.Maintenance {
				kind, again = "Maintenance window", "Start another maintenance window to extend it."
			}
			if err = e.say(ctx, render.New(fmt.Sprintf("🔕 %s #%d on ", kind, s.ID)).Code(s.Matcher).
				Text(fmt.Sprintf(" (%s) ends at %s, in %s. %s", s.Reason, clock(s.EndsAt), render.Duration(s.EndsAt.Sub(now)), again))); err != nil {
				return nil, err
			}
		}
	}
	return ended, nil
}

// say posts a notice to the admin room.
func (e *Engine) say(ctx context.Context, msg *render.Message) error {
	_, err := e.msgr.Post(ctx, e.conf().AdminRoom, "", "", msg)
	return err
}

func (e *Engine) wakeFlush() {
	select {
	case e.fired <- struct{}{}:
	default:
	}
}
