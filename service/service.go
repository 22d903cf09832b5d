// Package service runs Steward's background loops (the sync, the inbox, the outbox,
// the monitor, the schedules…) side by side, and stops them in an order that lets what
// is running finish and what is queued be written before the database closes.
package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Service is one background loop. Run returns when ctx ends (its error then does not
// count) or when the loop cannot go on; an error stops the whole program.
type Service interface {
	Name() string
	Run(ctx context.Context) error
}

// Func makes a service of a function; an error it returns before ctx ends stops
// the whole program.
func Func(name string, run func(ctx context.Context) error) Service {
	return funcService{name: name, run: run}
}

// Loop makes a service of a loop that only ever ends with its context.
func Loop(name string, run func(ctx context.Context)) Service {
	return funcService{name: name, run: func(ctx context.Context) error { run(ctx); return nil }}
}

type funcService struct {
	name string
	run  func(ctx context.Context) error
}

func (s funcService) Name() string                  { return s.name }
func (s funcService) Run(ctx context.Context) error { return s.run(ctx) }

// Stage is a set of services stopped together; Run stops the stages in the order
// they are given, so the input can stop before what drains it.
type Stage struct {
	Name     string
	Services []Service
	// Then, if set, runs once every service of the stage has returned and before the
	// next stage is stopped: the place to wait for what the stage started.
	Then func()
}

// Run runs the services of every stage until ctx ends or one of them fails, then stops
// the stages one after the other, in the order given: each stage's services see their
// context end only when the stages before it have stopped and their Then has run. Run
// returns when every service has returned, so nothing it started outlives it. The
// error is the first service's failure, named after the service.
func Run(ctx context.Context, stages ...Stage) error {
	g, failed := errgroup.WithContext(ctx)
	stops := make([]func(), len(stages))
	for i, st := range stages {
		// A stage's context ends when the runner says, not with ctx: a later stage
		// keeps going while the earlier ones wind down. The first one (the input)
		// ends with ctx itself, so nothing is taken in once a stop is asked for,
		// even one asked for before Run began.
		parent := context.WithoutCancel(ctx)
		if i == 0 {
			parent = ctx
		}
		stageCtx, cancel := context.WithCancel(parent)
		var running sync.WaitGroup
		for _, s := range st.Services {
			running.Add(1)
			g.Go(func() error {
				defer running.Done()
				err := s.Run(stageCtx)
				if err != nil && !errors.Is(err, context.Canceled) {
					return fmt.Errorf("%s: %w", s.Name(), err)
				}
				return nil
			})
		}
		stops[i] = func() {
			cancel()
			running.Wait()
			if st.Then != nil {
				st.Then()
			}
		}
	}
	g.Go(func() error {
		<-failed.Done() // ctx ended, or a service failed
		for _, stop := range stops {
			stop()
		}
		return nil
	})
	return g.Wait()
}

// Sleep waits for d, a signal on wakeup (nil for none) or the end of ctx; it returns
// false when ctx ended.
func Sleep(ctx context.Context, d time.Duration, wakeup <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wakeup:
	}
	return true
}

// Work runs the commands that outlive the loop that started them (a command taken from
// the inbox, a long update), on a context of their own, so that a shutdown can give
// them time to finish instead of cutting them off half-way.
type Work struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	running int
	idle    chan struct{} // closed when running drops to zero
}

// NewWork returns a Work whose context carries ctx's values but not its end.
func NewWork(ctx context.Context) *Work {
	w := &Work{}
	w.ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return w
}

// Context is the context commands run on: it ends with Stop, not with the program's
// context, so a command keeps running through the grace period.
func (w *Work) Context() context.Context { return w.ctx }

// Sleep is the package's Sleep, for a part that knows the runner only by the small
// interface it declares (the Matrix transport's bot.Work).
func (w *Work) Sleep(ctx context.Context, d time.Duration, wakeup <-chan struct{}) bool {
	return Sleep(ctx, d, wakeup)
}

// Go runs fn on the work context in a goroutine that Wait and Stop wait for.
func (w *Work) Go(fn func(ctx context.Context)) {
	w.mu.Lock()
	if w.running == 0 {
		w.idle = make(chan struct{})
	}
	w.running++
	w.mu.Unlock()
	go func() {
		defer w.done()
		fn(w.ctx)
	}()
}

func (w *Work) done() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running--; w.running == 0 {
		close(w.idle)
	}
}

// idleChan is closed once nothing runs; nil when nothing runs now.
func (w *Work) idleChan() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running == 0 {
		return nil
	}
	return w.idle
}

// Wait waits up to limit for the running commands and reports whether they all ended.
func (w *Work) Wait(limit time.Duration) bool {
	idle := w.idleChan()
	if idle == nil {
		return true
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}

// Stop ends the work context and waits for the commands still running to notice.
func (w *Work) Stop() {
	w.cancel()
	if idle := w.idleChan(); idle != nil {
		<-idle
	}
}
