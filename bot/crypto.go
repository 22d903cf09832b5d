package bot

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/id"
)

// ErrDeviceGone means Steward's device was deleted on the homeserver (someone signed
// it out), taking its encryption keys with it. Restarting cannot mend that; an operator
// must let Steward start over with a new device.
var ErrDeviceGone = errors.New("Steward's device no longer exists on the homeserver (signed out from another session?)")

// Files under data_dir that hold secrets. Both are written once, with mode 0600.
const (
	PickleKeyFile   = "pickle.key"
	RecoveryKeyFile = "recovery-key"
)

// connect waits for the homeserver, logs in (reusing the stored device), loads the
// encryption state and makes sure the device is cross-signed.
func (b *Bot) connect(ctx context.Context) error {
	log := zerolog.Ctx(ctx)
	pickleKey, err := loadOrCreateSecret(filepath.Join(b.cfg.DataDir, PickleKeyFile), 32)
	if err != nil {
		return fmt.Errorf("pickle key: %w", err)
	}
	cli, err := mautrix.NewClient(b.cfg.Matrix.Homeserver, b.cfg.Matrix.UserID, "")
	if err != nil {
		return fmt.Errorf("matrix client: %w", err)
	}
	cli.Log = log.With().Str("component", "matrix").Logger()
	cli.Syncer = mautrix.NewDefaultSyncer()
	b.client = cli
	if err = b.waitForHomeserver(ctx); err != nil {
		return err
	}

	helper, err := cryptohelper.NewCryptoHelper(cli, pickleKey, b.db.Raw)
	if err != nil {
		return fmt.Errorf("crypto setup: %w", err)
	}
	resumed, err := b.resumeSession(ctx)
	if err != nil {
		return err
	}
	if !resumed {
		helper.LoginAs = &mautrix.ReqLogin{
			Type:                     mautrix.AuthTypePassword,
			Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: b.cfg.Matrix.UserID.String()},
			Password:                 b.cfg.Password(),
			InitialDeviceDisplayName: b.cfg.Matrix.DeviceName,
		}
	}
	helper.DecryptErrorCallback = b.onDecryptError
	if err = helper.Init(ctx); err != nil {
		if strings.Contains(err.Error(), "keys seem to have disappeared from the server") {
			return fmt.Errorf("%w: stop Steward, move %s aside (keep %s and %s) and start it again: it will log in with a new device and verify it with the recovery key",
				ErrDeviceGone, filepath.Join(b.cfg.DataDir, DatabaseFile), PickleKeyFile, RecoveryKeyFile)
		}
		return fmt.Errorf("log in and load encryption state: %w", err)
	}
	helper.LoginAs = nil // the password is not needed any more
	b.crypto = helper
	cli.Crypto = helper
	if !resumed {
		if err = b.db.DoTxn(ctx, func(ctx context.Context) error {
			if err := b.db.KV.Set(ctx, keyAccessToken, cli.AccessToken); err != nil {
				return err
			}
			return b.db.KV.Set(ctx, keyDeviceID, cli.DeviceID.String())
		}); err != nil {
			return fmt.Errorf("store session: %w", err)
		}
	}
	log.Info().Stringer("device_id", cli.DeviceID).Bool("resumed_session", resumed).Msg("Logged in")

	mach := helper.Machine()
	// What mautrix v0.33.0 does here that Steward counts on (read in its source):
	//   - Inbound Megolm sessions are keyed by room and session ID (crypto store
	//     migration 23, applied to Steward's database at the first start; an older
	//     Steward cannot open it afterwards). A room key sent for one room never
	//     decrypts an event in another, so a key shared in a member's private chat
	//     cannot make a message pass as the admin room's.
	//   - A second copy of a session (forwarded, from backup) no longer overwrites
	//     the sender and signing keys of the copy received directly, so the trust
	//     state of a decrypted command (evt.Mautrix.TrustState, which the
	//     verified-device rule reads) is that of the device that really sent it.
	//   - A device whose signing key changes is kept as TrustStateDeviceKeyMismatch
	//     (below Unset) instead of being dropped: it counts as unverified.
	//   - TOFU is unchanged: the first master key seen for a user stays in
	//     first_seen_key, and a user whose master key changed resolves to
	//     CrossSignedUntrusted until Steward's user-signing key signs the new one
	//     (then CrossSignedVerified). That is what !trust does (trust.go); the new
	//     ResetMasterKeyTOFU would move first_seen_key, locally only.
	//   - The cross-signing private keys held in memory are dropped when Steward's
	//     own public keys on the server change (reset from another session), so
	//     trust.go loads them again from the recovery key when it needs them.
	//   - ShareKeysMinTrust defaults to CrossSignedTOFU: key requests are answered
	//     only for devices their owners cross-signed under the identity Steward
	//     trusts. DeleteKeysOnDeviceDelete stays off, so a command sent just before
	//     its device was signed out still decrypts. Ratchet safety data is now read
	//     back correctly, which matters only with RatchetKeysOnDecrypt and
	//     DeleteFullyUsedKeysOnDecrypt, both off here.
	if !b.cfg.Matrix.ShareKeysWithUnverified {
		// Room keys go only to devices their owners have cross-signed, so a device
		// added by someone who stole a password cannot read the admin room. A
		// device signed by a reset identity (CrossSignedUntrusted) gets none either
		// until an admin's !trust is approved.
		mach.SendKeysMinTrust = id.TrustStateCrossSignedTOFU
	}
	return b.ensureCrossSigned(ctx)
}

// Where the session is kept, so that Steward logs in with its password only once per
// device: a stable access token also lets the homeserver recognise a message resent
// after a crash (same token, same transaction ID) instead of posting it twice.
const (
	keyAccessToken = "session.access_token"
	keyDeviceID    = "session.device_id"
)

// resumeSession reuses the stored access token when the homeserver still accepts it
// for the stored device, and reports whether it did.
func (b *Bot) resumeSession(ctx context.Context) (bool, error) {
	token, err := b.db.KV.Get(ctx, keyAccessToken)
	if err != nil {
		return false, err
	}
	deviceID, err := b.db.KV.Get(ctx, keyDeviceID)
	if err != nil || token == "" || deviceID == "" {
		return false, err
	}
	b.client.AccessToken, b.client.DeviceID = token, id.DeviceID(deviceID)
	resp, err := b.client.Whoami(ctx)
	switch {
	case err == nil && resp.UserID == b.client.UserID && resp.DeviceID == b.client.DeviceID:
		return true, nil
	case err == nil || errors.Is(err, mautrix.MUnknownToken):
		zerolog.Ctx(ctx).Info().Msg("The stored session is no longer valid; logging in with the password")
		b.client.AccessToken = ""
		return false, nil
	default:
		return false, fmt.Errorf("check the stored session: %w", err)
	}
}

// waitForHomeserver retries until the homeserver answers, so that Steward started
// before its homeserver (after a reboot, say) waits instead of failing.
func (b *Bot) waitForHomeserver(ctx context.Context) error {
	return b.retry(ctx, "Homeserver not reachable yet", func() error {
		_, err := b.client.Versions(ctx)
		return err
	})
}

// retry calls fn until it succeeds or ctx ends, waiting 1 s, 2 s, 4 s… (at most 30 s)
// between tries and logging each failure with msg.
func (b *Bot) retry(ctx context.Context, msg string, fn func() error) error {
	delay := time.Second
	for {
		err := fn()
		if err == nil {
			return nil
		}
		zerolog.Ctx(ctx).Warn().Err(err).Dur("retry_in", delay).Msg(msg)
		if !b.work.Sleep(ctx, delay, nil) {
			return ctx.Err()
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// ensureCrossSigned makes the device trusted by its owner: on the very first start it
// creates cross-signing keys and stores the recovery key; later, or with a fresh
// database, it re-verifies the device with that stored key.
func (b *Bot) ensureCrossSigned(ctx context.Context) error {
	log := zerolog.Ctx(ctx)
	mach := b.crypto.Machine()
	hasKeys, verified, err := mach.GetOwnVerificationStatus(ctx)
	if err != nil {
		return fmt.Errorf("check cross-signing status: %w", err)
	}
	if verified {
		log.Debug().Msg("Device is already cross-signed")
		return nil
	}
	keyPath := filepath.Join(b.cfg.DataDir, RecoveryKeyFile)
	stored, err := os.ReadFile(keyPath)
	switch {
	case err == nil:
		if err = mach.VerifyWithRecoveryKey(ctx, strings.TrimSpace(string(stored))); err != nil {
			return fmt.Errorf("verify device with the recovery key in %s: %w", keyPath, err)
		}
		log.Info().Str("recovery_key_file", keyPath).Msg("Device verified with the stored recovery key")
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read recovery key: %w", err)
	}
	if hasKeys {
		if !b.opts.ResetCrossSigning {
			return fmt.Errorf("%s is missing, but Steward already has cross-signing keys on the homeserver: "+
				"restore the file from your backup, or start once with --reset-cross-signing to create new keys "+
				"(everyone will see Steward's identity change)", keyPath)
		}
		log.Warn().Str("recovery_key_file", keyPath).
			Msg("Replacing Steward's cross-signing keys as asked (--reset-cross-signing); other users will see its identity change")
	}
	password := b.cfg.Password()
	recoveryKey, _, err := mach.GenerateAndUploadCrossSigningKeys(ctx, func(ui *mautrix.RespUserInteractive) any {
		return &mautrix.ReqUIAuthLogin{
			BaseAuthData: mautrix.BaseAuthData{Type: mautrix.AuthTypePassword, Session: ui.Session},
			User:         b.client.UserID.String(),
			Password:     password,
		}
	}, "")
	if err != nil {
		return fmt.Errorf("create cross-signing keys: %w", err)
	}
	if err = writeSecret(keyPath, []byte(recoveryKey+"\n")); err != nil {
		return fmt.Errorf("save recovery key: %w", err)
	}
	if err = mach.SignOwnDevice(ctx, mach.OwnIdentity()); err != nil {
		return fmt.Errorf("sign own device: %w", err)
	}
	if err = mach.SignOwnMasterKey(ctx); err != nil {
		return fmt.Errorf("sign own master key: %w", err)
	}
	log.Info().Str("recovery_key_file", keyPath).
		Msg("Created cross-signing keys and verified this device; keep a copy of the recovery key somewhere safe")
	return nil
}

// loadOrCreateSecret returns the contents of path, creating it with size random bytes
// (mode 0600) when it does not exist.
func loadOrCreateSecret(path string, size int) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		if len(data) != size {
			return nil, fmt.Errorf("%s holds %d bytes, want %d", path, len(data), size)
		}
		return data, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	data = make([]byte, size)
	if _, err = rand.Read(data); err != nil {
		return nil, err
	}
	return data, writeSecret(path, data)
}

// writeSecret writes data to path with mode 0600, atomically, so a crash never leaves a
// half-written key.
func writeSecret(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err = tmp.Chmod(0o600); err == nil {
		if _, err = tmp.Write(data); err == nil {
			err = tmp.Sync()
		}
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
