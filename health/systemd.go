package health

import (
	"context"
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"
)

// Alive tells whether Steward runs rather than hangs (Readiness.Alive).
type Alive interface {
	Alive(ctx context.Context) bool
}

// Systemd tells systemd how Steward is (sd_notify, for a Type=notify unit): READY=1
// once the first sync is handled, WATCHDOG=1 every half of the unit's WatchdogSec
// while Steward is alive, and STOPPING=1 when it begins to stop. Outside systemd
// (no NOTIFY_SOCKET) every notification is a no-op.
type Systemd struct {
	// Synced is closed once the first sync has been handled.
	Synced <-chan struct{}
	Alive  Alive
	// Watchdog is the unit's WatchdogSec (daemon.SdWatchdogEnabled); 0 for none.
	Watchdog time.Duration
	// Notify sends one notification (daemon.SdNotify).
	Notify func(state string) error
}

// NewSystemd reads the watchdog's interval from the environment systemd sets.
func NewSystemd(synced <-chan struct{}, alive Alive) (*Systemd, error) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return nil, fmt.Errorf("read systemd's watchdog interval: %w", err)
	}
	return &Systemd{Synced: synced, Alive: alive, Watchdog: interval, Notify: func(state string) error {
		_, err := daemon.SdNotify(false, state)
		return err
	}}, nil
}

// Run notifies until ctx ends, then says Steward is stopping.
func (s *Systemd) Run(ctx context.Context) {
	log := zerolog.Ctx(ctx).With().Str("component", "systemd").Logger()
	notify := func(state string) {
		if err := s.Notify(state); err != nil {
			log.Warn().Err(err).Str("state", state).Msg("Failed to notify systemd")
		}
	}
	defer notify(daemon.SdNotifyStopping)
	select {
	case <-ctx.Done():
		return
	case <-s.Synced:
	}
	notify(daemon.SdNotifyReady)
	if s.Watchdog <= 0 {
		<-ctx.Done()
		return
	}
	ticker := time.NewTicker(s.Watchdog / 2)
	defer ticker.Stop()
	wasAlive := true
	for {
		alive := s.Alive.Alive(ctx)
		switch {
		case alive:
			notify(daemon.SdNotifyWatchdog)
			if !wasAlive {
				log.Info().Msg("Steward moves on again: the watchdog is fed again")
			}
		case wasAlive:
			log.Error().Msg("Steward looks stuck (its sync loop or database does not move on): the watchdog is no longer fed, so systemd restarts Steward")
		}
		wasAlive = alive
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
