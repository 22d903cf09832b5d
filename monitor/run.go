package monitor

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/service"
)

// minObserveTimeout is the least time a check's round may take, however short its
// interval.
const minObserveTimeout = 10 * time.Second

// Run runs each check on its interval and posts what fires, until ctx ends. Alerts of
// checks that are no longer configured are resolved first: nothing would ever resolve
// them otherwise. Escalation and announcement run apart (Escalate): they go on while
// a reload starts the checks again.
//
// sources are the names alerts of senders outside Steward are filed under (Report):
// they are kept, not retired.
func (e *Engine) Run(ctx context.Context, checks []Check, sources ...string) {
	log := zerolog.Ctx(ctx).With().Str("component", "monitor").Logger()
	ctx = log.WithContext(ctx)
	names := slices.Clone(sources)
	for _, c := range checks {
		names = append(names, c.Name())
	}
	if err := e.Retire(ctx, names); err != nil {
		log.Err(err).Msg("Failed to resolve the alerts of checks no longer configured")
	}
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Go(func() { e.runCheck(ctx, c) })
	}
	e.flushLoop(ctx)
	wg.Wait()
}

// Escalate escalates untaken critical alerts and announces long ones to the group,
// every tickEvery until ctx ends.
func (e *Engine) Escalate(ctx context.Context) {
	for service.Sleep(ctx, tickEvery, nil) {
		if err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			zerolog.Ctx(ctx).Err(err).Str("component", "monitor").Msg("Failed to escalate or announce alerts")
		}
	}
}

// Watcher is a check that also learns of changes as they happen (the Docker Engine's
// events): Watch runs beside the rounds and calls wake to start one at once.
type Watcher interface {
	Watch(ctx context.Context, wake func())
}

func (e *Engine) runCheck(ctx context.Context, c Check) {
	log := zerolog.Ctx(ctx).With().Str("check", c.Name()).Logger()
	woken := make(chan struct{}, 1)
	if w, ok := c.(Watcher); ok {
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() {
			w.Watch(ctx, func() {
				select {
				case woken <- struct{}{}:
				default:
				}
			})
		})
	}
	for {
		observeCtx, cancel := context.WithTimeout(ctx, max(c.Interval(), minObserveTimeout))
		obs, err := c.Observe(observeCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Warn().Err(err).Msg("Check failed")
		}
		if err = e.Apply(ctx, c.Name(), obs, err); err != nil {
			log.Err(err).Msg("Failed to record check results")
		}
		t := time.NewTimer(c.Interval())
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-woken:
		}
		t.Stop()
		if ctx.Err() != nil {
			return
		}
	}
}

// flushLoop posts firing alerts once their group wait is over.
func (e *Engine) flushLoop(ctx context.Context) {
	for {
		wait, err := e.Flush(ctx)
		if err != nil && ctx.Err() == nil {
			zerolog.Ctx(ctx).Err(err).Msg("Failed to post alerts")
			wait = 5 * time.Second
		}
		var timer *time.Timer
		var due <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			due = timer.C
		}
		select {
		case <-ctx.Done():
		case <-e.fired:
		case <-due:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// Retire resolves the open alerts of checks not among active (a check removed from the
// config, an HTTP check renamed).
func (e *Engine) Retire(ctx context.Context, active []string) error {
	now := e.now()
	return e.txn(ctx, func(ctx context.Context) error {
		open, err := e.store.Open(ctx, "")
		if err != nil {
			return err
		}
		ch := newChanges()
		for _, a := range open {
			if slices.Contains(active, a.Check) {
				continue
			}
			if err = e.resolve(ctx, ch, a, now); err != nil {
				return err
			}
		}
		return e.publish(ctx, ch, now)
	})
}
