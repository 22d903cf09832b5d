package bot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/id"
)

// keyTrustedMaster is where Steward keeps, per user, the master key it last trusted by
// !trust, so the next request can show what it replaces (mautrix keeps only the
// first key seen and the current one).
const keyTrustedMaster = "trust.master_key."

// MasterKey fetches userID's cross-signing keys from the homeserver now and returns
// the master key it serves, the one Steward trusted before, and whether the current
// one is trusted: it is the first Steward saw (TOFU), or Steward's user-signing key
// signed it. The fetch also updates what the crypto store holds, so commands that
// follow are judged by the same keys.
func (b *Bot) MasterKey(ctx context.Context, userID id.UserID) (current, before id.Ed25519, trusted bool, err error) {
	mach := b.crypto.Machine()
	devices, err := mach.FetchKeys(ctx, []id.UserID{userID}, true)
	if err != nil {
		return "", "", false, fmt.Errorf("fetch the keys of %s: %w", userID, err)
	}
	if _, ok := devices[userID]; !ok {
		// mautrix only logs a user the homeserver sent nothing for; the store
		// would still hold what it knew before.
		return "", "", false, fmt.Errorf("the homeserver sent no keys for %s", userID)
	}
	keys, err := mach.CryptoStore.GetCrossSigningKeys(ctx, userID)
	if err != nil {
		return "", "", false, fmt.Errorf("read the cross-signing keys of %s: %w", userID, err)
	}
	master, ok := keys[id.XSUsageMaster]
	if !ok {
		return "", "", false, nil
	}
	before = master.First
	if last, err := b.db.KV.Get(ctx, keyTrustedMaster+userID.String()); err != nil {
		return "", "", false, err
	} else if last != "" {
		before = id.Ed25519(last)
	}
	// IsUserTrusted is true only for a master key Steward's current user-signing
	// key signed, and only while Steward's own keys are trusted.
	signed, err := mach.IsUserTrusted(ctx, userID)
	if err != nil {
		return "", "", false, fmt.Errorf("check whether %s is trusted: %w", userID, err)
	}
	return master.Key, before, signed || master.Key == master.First, nil
}

// TrustMasterKey signs masterKey as userID's identity with Steward's user-signing key
// and uploads the signature. mautrix then resolves the devices that identity signs to
// CrossSignedVerified. It signs exactly masterKey: if the user's identity changed
// since, the signature is on a key nobody uses, and trusts nothing.
func (b *Bot) TrustMasterKey(ctx context.Context, userID id.UserID, masterKey id.Ed25519) error {
	if err := b.loadCrossSigningKeys(ctx); err != nil {
		return err
	}
	mach := b.crypto.Machine()
	if err := mach.SignUser(ctx, userID, masterKey); err != nil {
		return fmt.Errorf("sign the master key of %s: %w", userID, err)
	}
	// The room keys Steward shares now were withheld from the devices of that
	// identity; new ones, shared with them, start with the next message (the
	// confirmation), as when a device list changes.
	mach.OnDevicesChanged(ctx, userID)
	if err := b.db.KV.Set(ctx, keyTrustedMaster+userID.String(), masterKey.String()); err != nil {
		return fmt.Errorf("remember the master key of %s: %w", userID, err)
	}
	zerolog.Ctx(ctx).Info().Stringer("user_id", userID).Stringer("master_key", masterKey).
		Msg("Signed a user's master key with Steward's user-signing key")
	return nil
}

// loadCrossSigningKeys makes sure Steward's cross-signing private keys are in memory.
// They are there after a start that created them or verified the device with the
// recovery key, but not after a start that found the device verified already, and
// mautrix v0.33 drops them when Steward's public keys on the server change. They are
// read back from the homeserver's secret storage with the recovery key, and used only
// if they are the keys the homeserver serves for Steward now.
func (b *Bot) loadCrossSigningKeys(ctx context.Context) error {
	mach := b.crypto.Machine()
	if mach.CrossSigningKeys != nil && mach.CrossSigningKeys.UserSigningKey != nil {
		return nil
	}
	keyPath := filepath.Join(b.cfg.DataDir, RecoveryKeyFile)
	stored, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("read the recovery key, which unlocks Steward's user-signing key: %w", err)
	}
	serving, err := mach.GetCrossSigningPublicKeys(ctx, b.client.UserID)
	if err != nil {
		return fmt.Errorf("read Steward's cross-signing public keys: %w", err)
	} else if serving == nil {
		return errors.New("Steward has no cross-signing keys on the homeserver")
	}
	keyID, keyData, err := mach.SSSS.GetDefaultKeyData(ctx)
	if err != nil {
		return fmt.Errorf("read the secret storage key: %w", err)
	}
	key, err := keyData.VerifyRecoveryKey(keyID, strings.TrimSpace(string(stored)))
	if err != nil {
		return fmt.Errorf("check the recovery key in %s: %w", keyPath, err)
	}
	if err = mach.FetchCrossSigningKeysFromSSSS(ctx, key); err != nil {
		return fmt.Errorf("read Steward's cross-signing keys from secret storage: %w", err)
	}
	if *mach.CrossSigningKeys.PublicKeys() != *serving {
		// Fetching Steward's own keys makes mautrix drop the private keys that do
		// not match and its cached public ones.
		_, _ = mach.FetchKeys(ctx, []id.UserID{b.client.UserID}, true)
		return errors.New("the cross-signing keys in secret storage are not the ones the homeserver serves for Steward")
	}
	zerolog.Ctx(ctx).Info().Msg("Read Steward's cross-signing keys back from secret storage with the recovery key")
	return nil
}
