package testbed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Client is a person's Matrix session: its own device, encrypted and cross-signed,
// syncing in the background and keeping every message it receives.
type Client struct {
	*mautrix.Client
	Crypto *cryptohelper.CryptoHelper
	// RecoveryKey verifies another session of this account (the demo prints it).
	RecoveryKey string

	mu       sync.Mutex
	changed  chan struct{}
	messages []*event.Event
	members  map[id.RoomID]map[id.UserID]event.Membership
	// redactions are the redaction events received, by the event they redact.
	redactions map[id.EventID]*event.Event
	cancel     context.CancelFunc
	stopped    chan struct{}
}

// Register creates the account name with password on the homeserver at url.
func Register(ctx context.Context, url, name, password string) error {
	cli, err := mautrix.NewClient(url, "", "")
	if err != nil {
		return err
	}
	_, err = cli.RegisterDummy(ctx, &mautrix.ReqRegister[any]{Username: name, Password: password})
	return err
}

// NewClient logs in as name, sets up encryption in dir, cross-signs the new device and
// starts syncing.
func NewClient(ctx context.Context, url, name, password, dir string, log zerolog.Logger) (*Client, error) {
	return newClient(ctx, url, name, password, dir, log, true)
}

// NewUnverifiedClient is NewClient without cross-signing: a session its owner never
// verified, as a stolen password would give.
func NewUnverifiedClient(ctx context.Context, url, name, password, dir string, log zerolog.Logger) (*Client, error) {
	return newClient(ctx, url, name, password, dir, log, false)
}

func newClient(ctx context.Context, url, name, password, dir string, log zerolog.Logger, crossSign bool) (*Client, error) {
	cli, err := mautrix.NewClient(url, "", "")
	if err != nil {
		return nil, err
	}
	cli.Log = log.With().Str("client", name).Logger()
	syncer := mautrix.NewDefaultSyncer()
	cli.Syncer = syncer
	helper, err := cryptohelper.NewCryptoHelper(cli, []byte("testbed pickle key for "+name), filepath.Join(dir, name+".db"))
	if err != nil {
		return nil, err
	}
	helper.LoginAs = &mautrix.ReqLogin{
		Type:       mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: name},
		Password:   password,
	}
	if err = helper.Init(ctx); err != nil {
		return nil, fmt.Errorf("%s: init crypto: %w", name, err)
	}
	cli.Crypto = helper
	var recoveryKey string
	if crossSign {
		if recoveryKey, err = helper.Machine().GenerateAndVerifyWithRecoveryKey(ctx); err != nil {
			return nil, fmt.Errorf("%s: cross-sign: %w", name, err)
		}
	}
	c := &Client{
		Client: cli, Crypto: helper, RecoveryKey: recoveryKey,
		changed:    make(chan struct{}),
		members:    make(map[id.RoomID]map[id.UserID]event.Membership),
		redactions: make(map[id.EventID]*event.Event),
		stopped:    make(chan struct{}),
	}
	syncer.OnEventType(event.EventMessage, func(_ context.Context, evt *event.Event) { c.record(evt) })
	syncer.OnEventType(event.EventRedaction, func(_ context.Context, evt *event.Event) {
		c.mu.Lock()
		c.redactions[evt.Redacts] = evt
		if redacts := evt.Content.AsRedaction().Redacts; redacts != "" {
			c.redactions[redacts] = evt // room version 11 puts it in the content
		}
		c.notifyLocked()
		c.mu.Unlock()
	})
	syncer.OnEventType(event.StateMember, func(_ context.Context, evt *event.Event) {
		c.mu.Lock()
		if c.members[evt.RoomID] == nil {
			c.members[evt.RoomID] = make(map[id.UserID]event.Membership)
		}
		c.members[evt.RoomID][id.UserID(evt.GetStateKey())] = evt.Content.AsMember().Membership
		c.notifyLocked()
		c.mu.Unlock()
	})
	syncCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go func() {
		defer close(c.stopped)
		for syncCtx.Err() == nil {
			if err := cli.SyncWithContext(syncCtx); err != nil && syncCtx.Err() == nil {
				time.Sleep(500 * time.Millisecond) // the homeserver is being restarted
			}
		}
	}()
	return c, nil
}

func (c *Client) record(evt *event.Event) {
	// An edit is kept with the text a client shows for it (its new content) as its
	// body: since mautrix v0.32 the edit's own body is a fallback cut to 50 bytes.
	if content := evt.Content.AsMessage(); content.NewContent != nil && content.RelatesTo.GetReplaceID() != "" {
		content.Body, content.Format, content.FormattedBody = content.NewContent.Body, content.NewContent.Format, content.NewContent.FormattedBody
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.messages = append(c.messages, evt)
	c.notifyLocked()
}

func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Close stops syncing.
func (c *Client) Close() {
	c.cancel()
	<-c.stopped
	_ = c.Crypto.Close()
}

// WaitFor waits until cond, checked under the client's lock after every received event,
// returns true.
func (c *Client) WaitFor(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	deadline := time.After(limit)
	for {
		c.mu.Lock()
		ok := cond()
		changed := c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-deadline:
			return fmt.Errorf("%s: waited %s for %s", c.UserID, limit, what)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Messages returns a copy of the messages received in roomID, in arrival order.
func (c *Client) Messages(roomID id.RoomID) []*event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*event.Event
	for _, evt := range c.messages {
		if evt.RoomID == roomID {
			out = append(out, evt)
		}
	}
	return out
}

// RepliesTo returns the messages from sender that reply to eventID.
func (c *Client) RepliesTo(sender id.UserID, roomID id.RoomID, eventID id.EventID) []*event.Event {
	var out []*event.Event
	for _, evt := range c.Messages(roomID) {
		if evt.Sender == sender && evt.Content.AsMessage().RelatesTo.GetReplyTo() == eventID {
			out = append(out, evt)
		}
	}
	return out
}

// WaitForReply waits for the first reply from sender to eventID.
func (c *Client) WaitForReply(ctx context.Context, sender id.UserID, roomID id.RoomID, eventID id.EventID, limit time.Duration) (*event.Event, error) {
	var reply *event.Event
	err := c.WaitFor(ctx, limit, "a reply to "+eventID.String(), func() bool {
		for _, evt := range c.messages {
			if evt.RoomID == roomID && evt.Sender == sender && evt.Content.AsMessage().RelatesTo.GetReplyTo() == eventID {
				reply = evt
				return true
			}
		}
		return false
	})
	return reply, err
}

// WaitForReplySaying waits for a reply from sender to eventID whose text contains
// text, when the first reply is not the one a test waits for (an approval request,
// then the command's answer once approved).
func (c *Client) WaitForReplySaying(ctx context.Context, sender id.UserID, roomID id.RoomID, eventID id.EventID, text string, limit time.Duration) (*event.Event, error) {
	var reply *event.Event
	err := c.WaitFor(ctx, limit, fmt.Sprintf("a reply to %s saying %q", eventID, text), func() bool {
		for _, evt := range c.messages {
			content := evt.Content.AsMessage()
			if evt.RoomID == roomID && evt.Sender == sender && content.RelatesTo.GetReplyTo() == eventID && strings.Contains(content.Body, text) {
				reply = evt
				return true
			}
		}
		return false
	})
	return reply, err
}

// WaitForMembership waits until this client has seen userID's membership in roomID
// become want.
func (c *Client) WaitForMembership(ctx context.Context, roomID id.RoomID, userID id.UserID, want event.Membership, limit time.Duration) error {
	return c.WaitFor(ctx, limit, fmt.Sprintf("%s to %s %s", userID, want, roomID), func() bool {
		return c.members[roomID][userID] == want
	})
}

// CreateRoom creates a room, encrypted or not, inviting invitees.
func (c *Client) CreateRoom(ctx context.Context, name string, encrypted bool, invitees ...id.UserID) (id.RoomID, error) {
	req := &mautrix.ReqCreateRoom{Name: name, Preset: "private_chat", Invite: invitees}
	if encrypted {
		req.InitialState = []*event.Event{{
			Type:    event.StateEncryption,
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}}
	}
	resp, err := c.Client.CreateRoom(ctx, req)
	if err != nil {
		return "", err
	}
	return resp.RoomID, nil
}

// Say sends text as a message and returns its event ID.
func (c *Client) Say(ctx context.Context, roomID id.RoomID, text string) (id.EventID, error) {
	resp, err := c.SendText(ctx, roomID, text)
	if err != nil {
		return "", err
	}
	return resp.EventID, nil
}

// SayInThread sends text as a message in the thread that starts at root.
func (c *Client) SayInThread(ctx context.Context, roomID id.RoomID, root id.EventID, text string) (id.EventID, error) {
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: text}
	content.RelatesTo = (&event.RelatesTo{}).SetThread(root, root)
	resp, err := c.SendMessageEvent(ctx, roomID, event.EventMessage, content)
	if err != nil {
		return "", err
	}
	return resp.EventID, nil
}

// Invites returns the rooms this client is invited to now.
func (c *Client) Invites() map[id.RoomID]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[id.RoomID]bool)
	for r, members := range c.members {
		if members[c.UserID] == event.MembershipInvite {
			out[r] = true
		}
	}
	return out
}

// WaitForInvite waits until someone invites this client to a room it was not
// invited to before, and returns the room.
func (c *Client) WaitForInvite(ctx context.Context, known map[id.RoomID]bool, limit time.Duration) (id.RoomID, error) {
	var room id.RoomID
	err := c.WaitFor(ctx, limit, "an invite", func() bool {
		for r, members := range c.members {
			if members[c.UserID] == event.MembershipInvite && !known[r] {
				room = r
				return true
			}
		}
		return false
	})
	return room, err
}

// ResetCrossSigning gives the account a new cross-signing identity from this session,
// as someone who lost their recovery key does: new master, self-signing and
// user-signing keys (the homeserver asks for the password to replace them), with this
// device signed by them. Everyone who knew the old identity sees that it changed.
func (c *Client) ResetCrossSigning(ctx context.Context, password string) error {
	mach := c.Crypto.Machine()
	recoveryKey, _, err := mach.GenerateAndUploadCrossSigningKeysWithPassword(ctx, password, "")
	if err != nil {
		return fmt.Errorf("%s: new cross-signing keys: %w", c.UserID, err)
	}
	if err = mach.SignOwnDevice(ctx, mach.OwnIdentity()); err != nil {
		return fmt.Errorf("%s: sign own device: %w", c.UserID, err)
	}
	if err = mach.SignOwnMasterKey(ctx); err != nil {
		return fmt.Errorf("%s: sign own master key: %w", c.UserID, err)
	}
	c.RecoveryKey = recoveryKey
	return nil
}

// MasterKey returns the master key of this account's cross-signing identity, as this
// session knows it.
func (c *Client) MasterKey(ctx context.Context) (id.Ed25519, error) {
	keys, err := c.Crypto.Machine().GetOwnCrossSigningPublicKeys(ctx)
	if err != nil {
		return "", err
	} else if keys == nil {
		return "", fmt.Errorf("%s has no cross-signing keys", c.UserID)
	}
	return keys.MasterKey, nil
}

// DeviceTrust returns how this client's encryption trusts userID's device deviceID,
// fetching the keys fresh from the homeserver.
func (c *Client) DeviceTrust(ctx context.Context, userID id.UserID, deviceID id.DeviceID) (id.TrustState, error) {
	mach := c.Crypto.Machine()
	if _, err := mach.FetchKeys(ctx, []id.UserID{userID}, true); err != nil {
		return id.TrustStateUnset, err
	}
	devices, err := mach.CryptoStore.GetDevices(ctx, userID)
	if err != nil {
		return id.TrustStateUnset, err
	}
	device, ok := devices[deviceID]
	if !ok {
		return id.TrustStateUnset, errors.New("device not found on the homeserver")
	}
	return mach.ResolveTrustContext(ctx, device)
}

// WaitForText waits until a message from sender with exactly body arrives in roomID.
func (c *Client) WaitForText(ctx context.Context, roomID id.RoomID, sender id.UserID, body string, limit time.Duration) error {
	return c.WaitFor(ctx, limit, fmt.Sprintf("%q from %s", body, sender), func() bool {
		for i := len(c.messages) - 1; i >= 0; i-- {
			evt := c.messages[i]
			if evt.RoomID == roomID && evt.Sender == sender && evt.Content.AsMessage().Body == body {
				return true
			}
		}
		return false
	})
}

// SayWithLateKey sends text encrypted with a new Megolm session whose key nobody has
// yet, as happens when a room key is delayed in transit. It returns the event ID and a
// function that then delivers the key to userID's device deviceID.
func (c *Client) SayWithLateKey(ctx context.Context, roomID id.RoomID, text string, userID id.UserID, deviceID id.DeviceID) (id.EventID, func(context.Context) error, error) {
	mach := c.Crypto.Machine()
	session, err := crypto.NewOutboundGroupSession(roomID, &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}, nil)
	if err != nil {
		return "", nil, err
	}
	key := session.ShareContent() // the key at index 0, before anything is encrypted
	session.Shared = true         // as if the key had gone out
	plaintext, err := json.Marshal(map[string]any{
		"room_id": roomID,
		"type":    event.EventMessage.Type,
		"content": &event.MessageEventContent{MsgType: event.MsgText, Body: text},
	})
	if err != nil {
		return "", nil, err
	}
	ciphertext, err := session.Encrypt(plaintext)
	if err != nil {
		return "", nil, err
	}
	resp, err := c.SendMessageEvent(ctx, roomID, event.EventEncrypted, &event.EncryptedEventContent{
		Algorithm:        id.AlgorithmMegolmV1,
		SenderKey:        mach.OwnIdentity().IdentityKey,
		DeviceID:         c.DeviceID,
		SessionID:        session.ID(),
		MegolmCiphertext: ciphertext,
	})
	if err != nil {
		return "", nil, err
	}
	deliver := func(ctx context.Context) error {
		device, err := mach.GetOrFetchDevice(ctx, userID, deviceID)
		if err != nil {
			return err
		}
		return mach.SendEncryptedToDevice(ctx, device, event.ToDeviceRoomKey, key)
	}
	return resp.EventID, deliver, nil
}

// WaitForBody waits until a message from sender whose body contains substr arrives in
// roomID (an edit counts, with its new text).
func (c *Client) WaitForBody(ctx context.Context, roomID id.RoomID, sender id.UserID, substr string, limit time.Duration) error {
	return c.WaitFor(ctx, limit, fmt.Sprintf("a message from %s saying %q", sender, substr), func() bool {
		for _, evt := range c.messages {
			if evt.RoomID == roomID && evt.Sender == sender && strings.Contains(evt.Content.AsMessage().Body, substr) {
				return true
			}
		}
		return false
	})
}

// React reacts to eventID with key, encrypted as Element does in encrypted rooms (the
// mautrix client would send reactions in clear text).
func (c *Client) React(ctx context.Context, roomID id.RoomID, eventID id.EventID, key string) (id.EventID, error) {
	content := &event.ReactionEventContent{RelatesTo: event.RelatesTo{Type: event.RelAnnotation, EventID: eventID, Key: key}}
	encrypted, err := c.Crypto.Encrypt(ctx, roomID, event.EventReaction, content)
	if err != nil {
		return "", fmt.Errorf("encrypt reaction: %w", err)
	}
	resp, err := c.SendMessageEvent(ctx, roomID, event.EventEncrypted, encrypted)
	if err != nil {
		return "", err
	}
	return resp.EventID, nil
}

// WaitForCount waits until at least n messages from sender in roomID contain substr.
func (c *Client) WaitForCount(ctx context.Context, roomID id.RoomID, sender id.UserID, substr string, n int, limit time.Duration) error {
	return c.WaitFor(ctx, limit, fmt.Sprintf("%d messages from %s saying %q", n, sender, substr), func() bool {
		return c.countLocked(roomID, sender, substr) >= n
	})
}

// countLocked counts the messages from sender in roomID whose body contains substr;
// edits of a message do not count as messages.
func (c *Client) countLocked(roomID id.RoomID, sender id.UserID, substr string) int {
	count := 0
	for _, evt := range c.messages {
		content := evt.Content.AsMessage()
		if evt.RoomID == roomID && evt.Sender == sender && content.RelatesTo.GetReplaceID() == "" && strings.Contains(content.Body, substr) {
			count++
		}
	}
	return count
}

// CountBodies counts the messages from sender in roomID whose body contains substr;
// edits do not count.
func (c *Client) CountBodies(roomID id.RoomID, sender id.UserID, substr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.countLocked(roomID, sender, substr)
}

// WaitForNew waits for a message from sender in roomID whose body contains substr,
// after the seen such messages that came before (CountBodies), and returns it: a test
// that waits for a message a test before it may also have caused.
func (c *Client) WaitForNew(ctx context.Context, roomID id.RoomID, sender id.UserID, substr string, seen int, limit time.Duration) (*event.Event, error) {
	var found *event.Event
	err := c.WaitFor(ctx, limit, fmt.Sprintf("a new message from %s saying %q", sender, substr), func() bool {
		n := 0
		for _, evt := range c.messages {
			content := evt.Content.AsMessage()
			if evt.RoomID == roomID && evt.Sender == sender && content.RelatesTo.GetReplaceID() == "" && strings.Contains(content.Body, substr) {
				if n++; n > seen {
					found = evt
					return true
				}
			}
		}
		return false
	})
	return found, err
}

// WaitForMessage waits for the first message from sender in roomID whose body contains
// substr, and returns it. Edits of earlier messages are not messages of their own.
func (c *Client) WaitForMessage(ctx context.Context, roomID id.RoomID, sender id.UserID, substr string, limit time.Duration) (*event.Event, error) {
	var found *event.Event
	err := c.WaitFor(ctx, limit, fmt.Sprintf("a message from %s saying %q", sender, substr), func() bool {
		for _, evt := range c.messages {
			content := evt.Content.AsMessage()
			if evt.RoomID == roomID && evt.Sender == sender && content.RelatesTo.GetReplaceID() == "" && strings.Contains(content.Body, substr) {
				found = evt
				return true
			}
		}
		return false
	})
	return found, err
}

// WaitForEdit waits for an edit from sender of the message original in roomID whose
// body contains substr, and returns it.
func (c *Client) WaitForEdit(ctx context.Context, roomID id.RoomID, sender id.UserID, original id.EventID, substr string, limit time.Duration) (*event.Event, error) {
	var found *event.Event
	err := c.WaitFor(ctx, limit, fmt.Sprintf("an edit of %s from %s saying %q", original, sender, substr), func() bool {
		for _, evt := range c.messages {
			content := evt.Content.AsMessage()
			if evt.RoomID == roomID && evt.Sender == sender && content.RelatesTo.GetReplaceID() == original && strings.Contains(content.Body, substr) {
				found = evt
				return true
			}
		}
		return false
	})
	return found, err
}

// WaitForRedaction waits until this client has seen eventID of roomID redacted, and
// returns the redaction.
func (c *Client) WaitForRedaction(ctx context.Context, roomID id.RoomID, eventID id.EventID, limit time.Duration) (*event.Event, error) {
	var redaction *event.Event
	err := c.WaitFor(ctx, limit, "the redaction of "+eventID.String(), func() bool {
		redaction = c.redactions[eventID]
		return redaction != nil && redaction.RoomID == roomID
	})
	return redaction, err
}

// Redacted reports whether this client has seen eventID redacted.
func (c *Client) Redacted(eventID id.EventID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.redactions[eventID] != nil
}
