package service

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder notes, in order, what happened during a shutdown.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) loop(name string) Service {
	return Func(name, func(ctx context.Context) error {
		<-ctx.Done()
		r.add(name + " stopped")
		return ctx.Err()
	})
}

func TestRunStopsStagesInOrder(t *testing.T) {
	r := &recorder{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx,
			Stage{Name: "input", Services: []Service{r.loop("sync")}, Then: func() { r.add("commands finished") }},
			Stage{Name: "output", Services: []Service{r.loop("outbox")}, Then: func() { r.add("work stopped") }},
		)
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil for a plain stop", err)
	}
	want := []string{"sync stopped", "commands finished", "outbox stopped", "work stopped"}
	if !slices.Equal(r.events, want) {
		t.Fatalf("shutdown went %q, want %q", r.events, want)
	}
}

func TestRunStopsEverythingWhenAServiceFails(t *testing.T) {
	r := &recorder{}
	gone := errors.New("device gone")
	err := Run(t.Context(),
		Stage{Services: []Service{Func("sync", func(context.Context) error { return gone }), r.loop("inbox")}},
		Stage{Services: []Service{r.loop("outbox")}},
	)
	if !errors.Is(err, gone) || err.Error() != "sync: device gone" {
		t.Fatalf("Run = %v, want the failure named after its service", err)
	}
	if want := []string{"inbox stopped", "outbox stopped"}; !slices.Equal(r.events, want) {
		t.Fatalf("shutdown went %q, want %q", r.events, want)
	}
}

func TestRunKeepsGoingWhenAServiceEndsByItself(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r := &recorder{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Stage{Services: []Service{Loop("disabled", func(context.Context) {}), r.loop("sync")}})
	}()
	select {
	case err := <-done:
		t.Fatalf("Run returned %v when a disabled loop ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWork(t *testing.T) {
	w := NewWork(t.Context())
	release := make(chan struct{})
	w.Go(func(ctx context.Context) { <-release })
	if w.Wait(20 * time.Millisecond) {
		t.Fatal("Wait reported a running command as finished")
	}
	close(release)
	if !w.Wait(time.Second) {
		t.Fatal("Wait did not see the command finish")
	}
	var sawEnd bool
	w.Go(func(ctx context.Context) { <-ctx.Done(); sawEnd = true })
	w.Stop()
	if !sawEnd {
		t.Fatal("Stop returned before the command saw its context end")
	}
}

func TestSleep(t *testing.T) {
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	if !Sleep(t.Context(), time.Hour, wake) {
		t.Fatal("Sleep ignored the wakeup")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if Sleep(ctx, time.Hour, nil) {
		t.Fatal("Sleep ignored the end of its context")
	}
}

// A stop asked for before Run starts (a signal during the start-up recovery, say)
// stops the input at once: its services never see a context still going, so the
// inbox takes no command. The later stages still start, and stop in order.
func TestRunStoppedBeforeItStartsTakesNoInput(t *testing.T) {
	// Which goroutine runs first is the scheduler's choice: try often enough.
	for range 2000 {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var took, then bool
		err := Run(ctx,
			Stage{Services: []Service{Loop("inbox", func(ctx context.Context) {
				if ctx.Err() == nil {
					took = true
				}
			})}, Then: func() { then = true }},
			Stage{Services: []Service{Loop("outbox", func(ctx context.Context) { <-ctx.Done() })}},
		)
		if err != nil {
			t.Fatal(err)
		}
		if took {
			t.Fatal("an input service started with its context still going after the stop was asked for")
		}
		if !then {
			t.Fatal("the input stage's Then did not run")
		}
	}
}
