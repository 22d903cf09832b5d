package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCrashAtEveryStep kills Steward (as a power cut would: no cleanup) at each step
// between a command's arrival and the delivery of its answer, restarts it, and checks
// that the command was answered exactly once: with its result, or, when the crash came
// while it ran, with a note that it was not run again.
func TestCrashAtEveryStep(t *testing.T) {
	const result, notRun = "Pong!", "did not run it"
	steps := []struct {
		point string
		want  []string // what the one answer may say
	}{
		// Recorded, sync position not yet saved.
		{"command-recorded", []string{result}},
		// Batch handled, sync position not yet saved. The command may already have been
		// claimed (commands run beside the sync loop): then it is reported, not rerun.
		{"batch-handled", []string{result, notRun}},
		// Claimed, not yet run.
		{"command-claimed", []string{notRun}},
		// Answer queued (and perhaps on its way), command not yet marked done.
		{"command-answered", []string{result}},
		// Answer delivered, not yet marked sent.
		{"message-sent", []string{result}},
	}
	for _, step := range steps {
		t.Run(step.point, func(t *testing.T) {
			ctx := t.Context()
			if err := w.Steward.Stop(); err != nil {
				t.Fatal(err)
			}
			w.Steward.Env = []string{"STEWARD_CRASH_AT=" + step.point}
			err := w.Steward.Start(ctx)
			w.Steward.Env = nil
			if err != nil {
				t.Fatal(err)
			}
			eventID, err := w.Alice.Say(ctx, w.AdminRoom, "!ping")
			if err != nil {
				t.Fatal(err)
			}
			if !w.Steward.WaitExit(30 * time.Second) {
				t.Fatalf("Steward did not crash at %s", step.point)
			}
			if err = w.Steward.Start(ctx); err != nil {
				t.Fatal(err)
			}
			reply, err := w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, eventID, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			body := reply.Content.AsMessage().Body
			if !slices.ContainsFunc(step.want, func(want string) bool { return strings.Contains(body, want) }) {
				t.Errorf("answer %q, want one saying one of %q", body, step.want)
			}
			// Commands in a room are answered in order, so once a later one is answered
			// a second answer to the first would have arrived already.
			command(t, w.Alice, w.AdminRoom, "!ping")
			if n := len(w.Alice.RepliesTo(w.StewardID, w.AdminRoom, eventID)); n != 1 {
				t.Errorf("crash at %s: %d answers, want exactly 1", step.point, n)
			}
		})
	}
}

// TestLongOutageLeavesNoGap sends a command while Steward is down and then more
// messages than one sync returns: the command must still be seen and answered.
func TestLongOutageLeavesNoGap(t *testing.T) {
	ctx := t.Context()
	if err := w.Steward.Stop(); err != nil {
		t.Fatal(err)
	}
	cmd, err := w.Alice.Say(ctx, w.AdminRoom, "!whoami")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		if _, err := w.Bob.Say(ctx, w.AdminRoom, fmt.Sprintf("chatter %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err = w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, cmd, time.Minute); err != nil {
		t.Fatalf("a command followed by 150 messages while Steward was down was never answered: %v", err)
	}
}

// TestCrashWhileWaitingForARoomKey sends a command whose room key arrives late, and
// kills Steward while it waits for the key (its sync position already past the
// message). After the restart the key arrives and the command must still be answered.
func TestCrashWhileWaitingForARoomKey(t *testing.T) {
	ctx := t.Context()
	device, err := w.Steward.DeviceID()
	if err != nil {
		t.Fatal(err)
	}
	eventID, deliverKey, err := w.Alice.SayWithLateKey(ctx, w.AdminRoom, "!ping", w.StewardID, device)
	if err != nil {
		t.Fatal(err)
	}
	if err = w.WaitKept(ctx, eventID, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Kill(); err != nil {
		t.Fatal(err)
	}
	if err = deliverKey(ctx); err != nil {
		t.Fatal(err)
	}
	if err = w.Steward.Start(ctx); err != nil {
		t.Fatal(err)
	}
	reply, err := w.Alice.WaitForReply(ctx, w.StewardID, w.AdminRoom, eventID, time.Minute)
	if err != nil {
		t.Fatalf("a command whose key came after a crash was never answered: %v", err)
	}
	if body := reply.Content.AsMessage().Body; !strings.HasPrefix(body, "Pong!") {
		t.Errorf("answer %q, want a pong", body)
	}
}
