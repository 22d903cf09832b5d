package commands_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/steward-bot/steward/monitor"
	"github.com/steward-bot/steward/state"
)

// upstream is an Alertmanager for the silence commands: it makes and ends silences,
// or, down, fails every request.
type upstream struct {
	down    bool
	made    []string
	expired []string
}

var _ monitor.Upstream = (*upstream)(nil)

func (u *upstream) Source() string { return "alertmanager" }
func (u *upstream) Name() string   { return "Alertmanager" }

func (u *upstream) Silence(_ context.Context, _ *state.Silence, a *state.Alert) (string, error) {
	if u.down {
		return "", errors.New("connection refused")
	}
	u.made = append(u.made, a.Fingerprint)
	return fmt.Sprintf("am-%d", len(u.made)), nil
}

func (u *upstream) Expire(_ context.Context, upstreamID string) error {
	if u.down {
		return errors.New("connection refused")
	}
	u.expired = append(u.expired, upstreamID)
	return nil
}

func (u *upstream) Resolved(context.Context, []*state.Alert) ([]string, error) {
	if u.down {
		return nil, errors.New("connection refused")
	}
	return nil, nil
}

// withUpstream gives the rig's engine up as its upstream and fires n alerts from it.
func (d *alertRig) withUpstream(up *upstream, n int) {
	d.t.Helper()
	d.eng.Reconfigure(monitor.Settings{
		AdminRoom: adminRoom, GroupRoom: groupRoom, Prefix: d.settings.Prefix, BotUserID: d.settings.BotUserID,
		Admins: d.settings.Admins, Upstream: up,
	})
	var firing []monitor.Observation
	for i := range n {
		firing = append(firing, monitor.Observation{
			Fingerprint: fmt.Sprintf("am:%016x", i+1), Subject: "HostDown", Severity: state.SeverityCritical,
			Summary: fmt.Sprintf("host%d is down", i+1), Labels: map[string]string{"alertname": "HostDown", "instance": fmt.Sprintf("host%d", i+1)},
		})
	}
	if err := d.eng.Report(d.t.Context(), "alertmanager", firing, nil); err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.eng.Flush(d.t.Context()); err != nil {
		d.t.Fatal(err)
	}
}

func TestSilenceReachesAlertmanager(t *testing.T) {
	d := newAlertRig(t, monitor.Rotation{})
	up := &upstream{}
	d.withUpstream(up, 1)
	reply, _ := d.ask(admin, "!silence 1 2h replacing the switch")
	wantSays(t, reply, "🔕 Silence #1: alerts matching `am:0000000000000001` are held back until", "Alertmanager has it too, so it stops sending them.", "`!unsilence 1` ends it early.")
	if len(up.made) != 1 {
		t.Errorf("Alertmanager silences made: %v", up.made)
	}
	if s := d.silences(); len(s) != 1 || s[0].Upstream != "am-1" {
		t.Errorf("silences = %+v, want one with Alertmanager's ID", s)
	}
	reply, _ = d.ask(admin, "!unsilence 1")
	if reply.Plain != "Ended silence #1; alerts it held back come out now. Alertmanager's silence ended too." {
		t.Errorf("!unsilence 1 = %q", reply.Plain)
	}
	if strings.Join(up.expired, ",") != "am-1" {
		t.Errorf("expired in Alertmanager: %v", up.expired)
	}

	// A silence over Steward's own alerts says nothing of Alertmanager.
	d.fire("disk", diskFull("/var"))
	reply, _ = d.ask(admin, "!silence disk:* 2h moving backups")
	if strings.Contains(reply.Plain, "Alertmanager") {
		t.Errorf("a silence of a disk alert mentions Alertmanager: %q", reply.Plain)
	}
	// Nor does a maintenance window, which holds back everything here.
	reply, _ = d.ask(admin, "!maintenance 1h upgrading")
	if strings.Contains(reply.Plain, "Alertmanager") || len(up.made) != 1 {
		t.Errorf("a maintenance window went to Alertmanager: %q, made %v", reply.Plain, up.made)
	}
}

func TestSilenceSaysWhenAlertmanagerIsDown(t *testing.T) {
	d := newAlertRig(t, monitor.Rotation{})
	up := &upstream{down: true}
	d.withUpstream(up, 2)
	reply, entry := d.ask(admin, "!silence am:* 2h replacing the switch")
	wantSays(t, reply, "It covers 2 open alert(s) now.",
		"Couldn't reach Alertmanager to silence it there: the silence holds here, but Alertmanager keeps sending these alerts (Steward holds them back).")
	if entry.Outcome != state.OutcomeOK || len(d.silences()) != 1 {
		t.Errorf("outcome %s, silences %+v: Steward's silence must hold", entry.Outcome, d.silences())
	}
	if strings.Contains(reply.Plain, "refused") {
		t.Errorf("the reply shows the internal error: %q", reply.Plain)
	}
	reply, _ = d.ask(admin, "!unsilence 1")
	if reply.Plain != "Ended silence #1; alerts it held back come out now." {
		t.Errorf("!unsilence of a silence Alertmanager never had = %q", reply.Plain)
	}
}

func TestUnsilenceSaysWhenAlertmanagerIsDown(t *testing.T) {
	d := newAlertRig(t, monitor.Rotation{})
	up := &upstream{}
	d.withUpstream(up, 1)
	d.ask(admin, "!silence 1 2h replacing the switch")
	up.down = true
	reply, _ := d.ask(admin, "!unsilence 1")
	wantSays(t, reply, "Ended silence #1; alerts it held back come out now.", "Couldn't reach Alertmanager to end its silence there; it ends by itself at 14:00 UTC.")
}

func TestSilenceOverManyAlertsIsBoundedInAlertmanager(t *testing.T) {
	d := newAlertRig(t, monitor.Rotation{})
	up := &upstream{}
	d.withUpstream(up, 25)
	reply, _ := d.ask(admin, "!silence am:* 2h the rack lost power")
	wantSays(t, reply, "Alertmanager has it too for 20 of the 25 alerts from it (at most 20 at once); it keeps sending the rest, which Steward holds back.")
	if len(up.made) != 20 {
		t.Errorf("%d silences made in Alertmanager, want 20", len(up.made))
	}
}
