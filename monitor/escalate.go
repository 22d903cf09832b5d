package monitor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Escalation levels of a critical alert nobody took.
const (
	escalatedOnDuty = 1
	escalatedAll    = 2
)

// tickEvery is how often the engine looks for alerts to escalate or announce.
const tickEvery = 15 * time.Second

// Tick does what time alone makes due: it ends silences whose time ran out (warning a
// few minutes before, and settling what their upstream resolved meanwhile), tells members about a public problem that lasted
// AnnounceAfter, and calls people to a critical alert nobody took: the admin on duty
// after EscalateAfter, every admin after twice that.
func (e *Engine) Tick(ctx context.Context) error {
	now := e.now()
	var ended []*state.Silence
	err := e.txn(ctx, func(ctx context.Context) error {
		var err error
		if ended, err = e.tickSilences(ctx, now); err != nil {
			return err
		}
		all, err := e.store.Open(ctx, "")
		if err != nil {
			return err
		}
		sil, err := e.silencer(ctx)
		if err != nil {
			return err
		}
		// What a silence holds back is neither announced nor escalated.
		var open []*state.Alert
		for _, a := range all {
			if sil.of(a, now) == nil {
				open = append(open, a)
			}
		}
		if err = e.announce(ctx, open, now); err != nil {
			return err
		}
		return e.escalate(ctx, open, now)
	})
	if len(ended) > 0 {
		e.wakeFlush()
	}
	if err != nil {
		return err
	}
	// Outside the transaction: it asks the upstream over the network, for the silences
	// that just ended and those it could not reach before.
	return e.settleEnded(ctx)
}

// announce tells the group room, in one message, about the public problems that
// lasted AnnounceAfter and were not announced yet.
func (e *Engine) announce(ctx context.Context, open []*state.Alert, now time.Time) error {
	if e.conf().GroupRoom == "" {
		return nil
	}
	var due []*state.Alert
	for _, a := range open {
		if a.State == state.AlertFiring && a.Public && !a.Announced && now.Sub(a.FiredAt) >= e.conf().AnnounceAfter {
			due = append(due, a)
		}
	}
	if len(due) == 0 {
		return nil
	}
	subjects := make([]string, 0, len(due))
	for _, a := range due {
		if !slices.Contains(subjects, a.Subject) {
			subjects = append(subjects, a.Subject)
		}
		a.Announced = true
		if err := e.store.Update(ctx, a); err != nil {
			return err
		}
	}
	verb := "are"
	if len(subjects) == 1 {
		verb = "is"
	}
	msg := render.New("⚠️ ").Bold(strings.Join(subjects, ", ")).
		Text(fmt.Sprintf(" %s not working properly since %s. The admins know and are on it; I'll say here when it is back.", verb, clock(due[0].FiredAt)))
	zerolog.Ctx(ctx).Info().Strs("subjects", subjects).Msg("Told members about a problem")
	return e.msgr.Announce(ctx, e.conf().GroupRoom, msg)
}

// escalate mentions people on the messages of critical alerts nobody took.
func (e *Engine) escalate(ctx context.Context, open []*state.Alert, now time.Time) error {
	after := e.conf().EscalateAfter
	if after <= 0 {
		return nil
	}
	onDuty, hasRotation := id.UserID(""), false
	if e.conf().OnDuty != nil {
		onDuty, hasRotation = e.conf().OnDuty(ctx, now)
	}
	type call struct {
		level  int
		alerts []*state.Alert
	}
	calls := make(map[int64]*call) // by message
	var order []int64
	for _, a := range open {
		if a.State != state.AlertFiring || a.Severity != state.SeverityCritical || a.AckedBy != "" || a.Message == 0 {
			continue
		}
		level := 0
		switch waited := now.Sub(a.FiredAt); {
		case waited >= 2*after:
			level = escalatedAll
		case waited >= after:
			level = escalatedOnDuty
		}
		if !hasRotation && level == escalatedOnDuty {
			level = escalatedAll // nobody is on duty: everyone at once
		}
		if level <= a.Escalation {
			continue
		}
		c := calls[a.Message]
		if c == nil {
			c = &call{}
			calls[a.Message] = c
			order = append(order, a.Message)
		}
		c.level = max(c.level, level)
		c.alerts = append(c.alerts, a)
	}
	for _, msgID := range order {
		c := calls[msgID]
		people := e.conf().Admins
		if c.level == escalatedOnDuty {
			people = []id.UserID{onDuty}
		}
		msg := render.New("🔔 ")
		for i, who := range people {
			if i > 0 {
				msg.Text(", ")
			}
			msg.Pill(who)
		}
		numbers := make([]string, 0, len(c.alerts))
		for _, a := range c.alerts {
			numbers = append(numbers, fmt.Sprintf("#%d", a.ID))
			a.Escalation = c.level
			if err := e.store.Update(ctx, a); err != nil {
				return err
			}
		}
		first := c.alerts[0]
		what, it, ack := numbers[0]+" is", "it", fmt.Sprintf("%sack %d", e.conf().Prefix, first.ID)
		if len(numbers) > 1 {
			what, it = strings.Join(numbers, ", ")+" are", "them"
			ack = e.conf().Prefix + "ack " + strings.ReplaceAll(strings.Join(numbers, " "), "#", "")
		}
		since := render.Duration(now.Sub(first.FiredAt))
		if len(numbers) > maxListed {
			// A storm: the numbers of a thousand would make a call the homeserver
			// refuses; the reaction takes them all.
			what = fmt.Sprintf("%s and %d more are", strings.Join(numbers[:maxListed], ", "), len(numbers)-maxListed)
			msg.Text(fmt.Sprintf(": %s critical and nobody has taken them for %s. React %s above to take them all.", what, since, ReactionAck))
		} else {
			msg.Text(fmt.Sprintf(": %s critical and nobody has taken %s for %s. React %s above or send ", what, it, since, ReactionAck)).
				Code(ack).Text(".")
		}
		zerolog.Ctx(ctx).Warn().Strs("alerts", numbers[:min(len(numbers), maxListed)]).Int("count", len(numbers)).Int("level", c.level).
			Msg("Escalating critical alerts nobody took")
		if err := e.msgr.FollowUp(ctx, e.conf().AdminRoom, msgID, msg, people...); err != nil {
			return err
		}
	}
	return nil
}
