package monitor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/state"
)

// Upstream is the system a source's alerts come from (Alertmanager). A silence over
// its alerts is made there too, so that it stops sending them, and ended there with
// Steward's. The engine calls it only once Steward's own silence is committed, so an
// upstream that can't be reached never keeps a silence from holding.
type Upstream interface {
	// Source is the check the upstream's alerts are filed under ("alertmanager").
	Source() string
	// Name names it for people ("Alertmanager").
	Name() string
	// Silence makes a silence upstream for alert a until s ends, and returns its ID.
	Silence(ctx context.Context, s *state.Silence, a *state.Alert) (string, error)
	// Expire ends the upstream silence upstreamID.
	Expire(ctx context.Context, upstreamID string) error
	// Resolved returns the fingerprints of those of alerts the upstream no longer has
	// firing: Alertmanager sends nothing about a silenced alert, not even that it
	// resolved, so the engine asks when a silence it was told of ends.
	Resolved(ctx context.Context, alerts []*state.Alert) ([]string, error)
}

// maxUpstream bounds the upstream silences one silence makes, one per alert it
// matches: a pattern over a storm makes 20, not a thousand.
const maxUpstream = 20

// upstreamTimeout bounds all the requests of one silence to its upstream together,
// requestTimeout the question which of its alerts resolved.
const (
	upstreamTimeout = 20 * time.Second
	requestTimeout  = 10 * time.Second
)

// UpstreamResult is what a silence did upstream, for the admin's reply.
type UpstreamResult struct {
	// Name is the upstream's ("Alertmanager"); "" when it had nothing to do there.
	Name string
	// Done is how many upstream silences were made (or ended), Failed how many could
	// not be, Left how many matched alerts were past maxUpstream.
	Done, Failed, Left int
}

// SilenceUpstream makes upstream silences for the alerts of s that came from the
// upstream (matched, as Silence returned them), at most maxUpstream, and records their
// IDs with s; by set s. Call it once Silence has committed s. An upstream it can't reach counts
// as Failed and the error is logged; only a database error is returned.
func (e *Engine) SilenceUpstream(ctx context.Context, s *state.Silence, matched []*state.Alert, by Actor) (UpstreamResult, error) {
	up := e.conf().Upstream
	var res UpstreamResult
	if up == nil {
		return res, nil
	}
	var from []*state.Alert
	for _, a := range matched {
		if a.Check == up.Source() && a.State != state.AlertResolved {
			from = append(from, a)
		}
	}
	if len(from) == 0 {
		return res, nil
	}
	res.Name = up.Name()
	if len(from) > maxUpstream {
		res.Left, from = len(from)-maxUpstream, from[:maxUpstream]
	}
	log := zerolog.Ctx(ctx).With().Int64("silence_id", s.ID).Str("upstream", res.Name).Logger()
	reqCtx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	var ids []string
	for _, a := range from {
		upstreamID, err := up.Silence(reqCtx, s, a)
		if err != nil {
			log.Warn().Err(err).Int64("alert_id", a.ID).Msg("Failed to silence an alert upstream")
			res.Failed++
			continue
		}
		ids = append(ids, upstreamID)
	}
	res.Done = len(ids)
	outcome := state.OutcomeOK
	if res.Failed > 0 {
		outcome = state.OutcomeError
	}
	err := e.txn(ctx, func(ctx context.Context) error {
		if len(ids) > 0 {
			if err := e.silences.SetUpstream(ctx, s.ID, strings.Join(ids, ",")); err != nil {
				return err
			}
		}
		_, err := e.audit.Append(ctx, &state.AuditEntry{
			Actor: by.UserID, ActorDevice: by.DeviceID, RoomID: by.RoomID, EventID: by.EventID, Action: "silence.upstream", Outcome: outcome,
			Arguments: fmt.Sprintf("#%d %s %s", s.ID, up.Source(), strings.Join(ids, ",")),
			Detail:    fmt.Sprintf("%d of %d alerts silenced in %s", res.Done, len(from)+res.Left, res.Name),
		})
		return err
	})
	if err != nil {
		return res, fmt.Errorf("record the upstream silences of #%d: %w", s.ID, err)
	}
	s.Upstream = strings.Join(ids, ",")
	return res, nil
}

// ExpireUpstream ends the upstream silences of s, which Unsilence ended in Steward,
// and resolves the alerts of s the upstream resolved while they were silenced. An
// upstream it can't reach counts as Failed (its silences end by themselves when s
// would have); only a database error is returned.
func (e *Engine) ExpireUpstream(ctx context.Context, s *state.Silence, by Actor) (UpstreamResult, error) {
	up := e.conf().Upstream
	var res UpstreamResult
	if up == nil || s.Upstream == "" {
		return res, nil
	}
	res.Name = up.Name()
	log := zerolog.Ctx(ctx).With().Int64("silence_id", s.ID).Str("upstream", res.Name).Logger()
	reqCtx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	for _, upstreamID := range strings.Split(s.Upstream, ",") {
		if err := up.Expire(reqCtx, upstreamID); err != nil {
			log.Warn().Err(err).Msg("Failed to end a silence upstream")
			res.Failed++
			continue
		}
		res.Done++
	}
	outcome := state.OutcomeOK
	if res.Failed > 0 {
		outcome = state.OutcomeError
	}
	if _, err := e.audit.Append(ctx, &state.AuditEntry{
		Actor: by.UserID, ActorDevice: by.DeviceID, RoomID: by.RoomID, EventID: by.EventID, Action: "silence.upstream_end", Outcome: outcome,
		Arguments: fmt.Sprintf("#%d %s %s", s.ID, up.Source(), s.Upstream),
		Detail:    fmt.Sprintf("%d of %d silences ended in %s", res.Done, res.Done+res.Failed, res.Name),
	}); err != nil {
		return res, fmt.Errorf("record the end of the upstream silences of #%d: %w", s.ID, err)
	}
	return res, e.settle(ctx, s)
}

// maxSettlePerTick bounds the silences whose upstream is asked again in one tick, so
// an upstream that doesn't answer can't hold the ticks up for long.
const maxSettlePerTick = 5

// settleEnded settles the ended silences not settled yet: the one that just ended, or
// one whose upstream could not be reached when it ended, however long ago and across
// restarts, so an alert that resolved while silenced does not stay open for good.
func (e *Engine) settleEnded(ctx context.Context) error {
	if e.conf().Upstream == nil || e.silences == nil {
		return nil
	}
	unsettled, err := e.silences.Unsettled(ctx)
	if err != nil {
		return err
	}
	for i, s := range unsettled {
		if i == maxSettlePerTick {
			break
		}
		if err = e.settle(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// settle is settleUpstream, recorded once it could ask the upstream.
func (e *Engine) settle(ctx context.Context, s *state.Silence) error {
	reached, err := e.settleUpstream(ctx, s)
	if err != nil || !reached {
		return err
	}
	return e.silences.MarkSettled(ctx, s.ID)
}

// settleUpstream resolves the open alerts of s's upstream that s matches and that the
// upstream no longer has firing: Alertmanager tells nobody that a silenced alert
// resolved. It reports whether it could ask: an upstream it can't reach leaves them as
// they are (logged), for a later tick to try again.
func (e *Engine) settleUpstream(ctx context.Context, s *state.Silence) (bool, error) {
	up := e.conf().Upstream
	if up == nil || s.Upstream == "" {
		return true, nil
	}
	open, err := e.store.Open(ctx, up.Source())
	if err != nil {
		return false, err
	}
	var covered []*state.Alert
	for _, a := range open {
		if a.State == state.AlertFiring && Matches(s.Matcher, a.Fingerprint) {
			covered = append(covered, a)
		}
	}
	if len(covered) == 0 {
		return true, nil
	}
	reqCtx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resolved, err := up.Resolved(reqCtx, covered)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Int64("silence_id", s.ID).Msg("Failed to ask upstream which silenced alerts resolved meanwhile; trying again later")
		return false, nil
	}
	if len(resolved) == 0 {
		return true, nil
	}
	zerolog.Ctx(ctx).Info().Int64("silence_id", s.ID).Int("alerts", len(resolved)).Msg("Resolving alerts that resolved upstream while silenced")
	return true, e.Report(ctx, up.Source(), nil, resolved)
}
