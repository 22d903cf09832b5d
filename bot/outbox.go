package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Outbox is what Steward sends, queued in the database and delivered in order by
// SendOutbox: replies, notices, reactions and edits. The features post through it (each
// through the small interface it declares); nothing is sent any other way.
type Outbox struct {
	store *state.Outbox
	// db, when set, is the database the outbox is part of: a reply given up on is
	// recorded in its decision log, in one transaction with being given up on.
	db *state.DB
	// wake tells the sender a message was queued.
	wake chan struct{}
	// sleep is the runner's wait (Work.Sleep).
	sleep func(ctx context.Context, d time.Duration, wakeup <-chan struct{}) bool
	// client, synced, adminRoom and groupRoom are set by Connect: the Matrix client,
	// the end of the first sync, where refused messages are reported, and the rooms
	// whose messages go first (priorityOf).
	client    eventSender
	synced    <-chan struct{}
	adminRoom id.RoomID
	groupRoom id.RoomID
	// self is Steward's account, the actor of what the outbox records.
	self id.UserID
}

// priorityOf is the outbox priority of what is said in roomID: what goes to the admin
// room and the group room (alerts, approval requests, answers to commands) goes
// before what goes to members' private chats. Tickets' messages in the admin room are
// members' traffic too; PostInThread queues them so.
func (o *Outbox) priorityOf(roomID id.RoomID) state.Priority {
	if roomID == o.adminRoom || roomID == o.groupRoom {
		return state.PriorityAdmins
	}
	return state.PriorityMembers
}

// outboxPoll is how often an idle sender looks for messages queued by another process
// (steward notify).
const outboxPoll = 2 * time.Second

// crashSettle is how long, after the first sync, a message caught mid-send by a crash
// waits before it is sent again. The homeserver may still be handling the request the
// crash cut off when Steward is back (Dendrite remembers a transaction ID only once
// its request is done, so a resend meanwhile makes a second message); by then its
// event has come down the sync and the message is marked sent instead.
const crashSettle = 3 * time.Second

// Reply queues msg as a notice in roomID, as a reply to replyTo and inside the thread
// threadRoot when there is one.
func (o *Outbox) Reply(ctx context.Context, roomID id.RoomID, replyTo, threadRoot id.EventID, msg *render.Message) error {
	_, err := o.queue(ctx, roomID, replyContent(msg, replyTo, threadRoot), replyTo)
	return err
}

func replyContent(msg *render.Message, replyTo, threadRoot id.EventID) *event.MessageEventContent {
	content := msg.Notice()
	content.Mentions = &event.Mentions{}
	switch {
	case threadRoot != "":
		// A real reply inside the thread (not a thread fallback), so clients show
		// which command it answers.
		content.RelatesTo = (&event.RelatesTo{}).SetThread(threadRoot, "").SetReplyTo(replyTo)
	case replyTo != "":
		content.RelatesTo = (&event.RelatesTo{}).SetReplyTo(replyTo)
	}
	return content
}

// Post is Reply that returns the message's outbox ID, for reactions and edits.
func (o *Outbox) Post(ctx context.Context, roomID id.RoomID, replyTo, threadRoot id.EventID, msg *render.Message) (int64, error) {
	return o.queue(ctx, roomID, replyContent(msg, replyTo, threadRoot), replyTo)
}

// React queues a reaction with key to the queued message msgID, which need not be
// sent yet: the sender fills in its event ID once it is.
func (o *Outbox) React(ctx context.Context, roomID id.RoomID, msgID int64, key string) error {
	content := &event.ReactionEventContent{RelatesTo: event.RelatesTo{Type: event.RelAnnotation, Key: key}}
	_, err := o.queueRelated(ctx, roomID, event.EventReaction, content, msgID)
	return err
}

// Edit queues a replacement of the queued message msgID's text by msg; it mentions
// no one, so an edit notifies nobody again.
func (o *Outbox) Edit(ctx context.Context, roomID id.RoomID, msgID int64, msg *render.Message) error {
	content := msg.Notice()
	content.Mentions = &event.Mentions{}
	// Measured before it becomes an edit, which adds a fallback of at most 70 bytes
	// (mautrix cuts it) and a relation: what render's FitsEdit passed is not cut.
	shorten(ctx, content, render.MaxContent-render.RelationRoom)
	content.SetEdit("") // the sender fills in the event ID once msgID is sent
	_, err := o.queueRelated(ctx, roomID, event.EventMessage, content, msgID)
	return err
}

// FollowUp queues msg as a reply to the earlier queued message msgID (a resolved
// alert's short note under the alert it ends), notifying mentions.
func (o *Outbox) FollowUp(ctx context.Context, roomID id.RoomID, msgID int64, msg *render.Message, mentions ...id.UserID) error {
	content := msg.Notice()
	content.Mentions = &event.Mentions{UserIDs: mentions}
	content.RelatesTo = &event.RelatesTo{InReplyTo: &event.InReplyTo{}} // filled in when sent
	shorten(ctx, content, render.MaxContent-render.RelationRoom)
	_, err := o.queueRelated(ctx, roomID, event.EventMessage, content, msgID)
	return err
}

// Announce queues msg for roomID as an ordinary text message, which (unlike Steward's
// notices) clients notify members about.
func (o *Outbox) Announce(ctx context.Context, roomID id.RoomID, msg *render.Message) error {
	content := msg.Notice()
	content.MsgType = event.MsgText
	content.Mentions = &event.Mentions{}
	return o.Send(ctx, roomID, content)
}

func (o *Outbox) queueRelated(ctx context.Context, roomID id.RoomID, evtType event.Type, content any, msgID int64) (int64, error) {
	return o.queueAt(ctx, o.priorityOf(roomID), roomID, evtType, content, "", msgID)
}

// queueAt queues content at prio, replying to replyTo or relating to the queued
// message relatesTo, and wakes the sender once the transaction of ctx commits.
func (o *Outbox) queueAt(ctx context.Context, prio state.Priority, roomID id.RoomID, evtType event.Type, content any, replyTo id.EventID, relatesTo int64) (int64, error) {
	relatedID, err := o.store.AddAt(ctx, prio, roomID, evtType, content, replyTo, relatesTo)
	if err == nil {
		state.AfterCommit(ctx, func() { wake(o.wake) })
	}
	return relatedID, err
}

// Notice queues msg for roomID as a notice, notifying mentions: how the features tell
// a room something that answers no one.
func (o *Outbox) Notice(ctx context.Context, roomID id.RoomID, msg *render.Message, mentions ...id.UserID) error {
	content := msg.Notice()
	if len(mentions) > 0 {
		content.Mentions = &event.Mentions{UserIDs: mentions}
	}
	return o.Send(ctx, roomID, content)
}

// redaction is a queued removal of a message: the outbox sends it with the redact
// endpoint, not as an event of its own (the homeserver only redacts what comes
// that way, and it is never encrypted).
type redaction struct {
	Redacts id.EventID `json:"redacts"`
	Reason  string     `json:"reason,omitempty"`
}

// Redact queues the removal of the message eventID of roomID, with reason.
func (o *Outbox) Redact(ctx context.Context, roomID id.RoomID, eventID id.EventID, reason string) error {
	_, err := o.queueAt(ctx, o.priorityOf(roomID), roomID, event.EventRedaction, &redaction{Redacts: eventID, Reason: reason}, "", 0)
	return err
}

// Send queues content for roomID. It returns once the message is durably queued; the
// outbox sender delivers it, in order, whenever the homeserver takes it.
func (o *Outbox) Send(ctx context.Context, roomID id.RoomID, content *event.MessageEventContent) error {
	_, err := o.queue(ctx, roomID, content, "")
	return err
}

// SendExtra queues content for roomID with extra fields beside the message's own, for
// content meant for programs as well as people (a checkpoint's CheckpointField).
func (o *Outbox) SendExtra(ctx context.Context, roomID id.RoomID, content *event.MessageEventContent, extra map[string]any) error {
	_, err := o.queueAt(ctx, o.priorityOf(roomID), roomID, event.EventMessage, &event.Content{Parsed: content, Raw: extra}, "", 0)
	return err
}

func (o *Outbox) queue(ctx context.Context, roomID id.RoomID, content *event.MessageEventContent, replyTo id.EventID) (int64, error) {
	shorten(ctx, content, render.MaxContent-render.RelationRoom)
	return o.queueAt(ctx, o.priorityOf(roomID), roomID, event.EventMessage, content, replyTo, 0)
}

// SendOutbox delivers queued messages one at a time, the admins' first, then oldest
// first (state.Priority). A message that fails because the homeserver is away or
// rate-limiting stays at the head of the queue, so nothing overtakes it and nothing
// is dropped.
func (o *Outbox) SendOutbox(ctx context.Context) {
	sender := &outboxSender{client: o.client, outbox: o.store, wakeup: o.wake, sleep: o.sleep, poll: outboxPoll,
		synced: o.synced, settle: crashSettle, onRefused: o.refuse}
	sender.run(ctx)
}

// shorten cuts a message whose content would be over budget bytes (JSON) to its first
// lines, in plain text, with a note of what was left out: the homeserver refuses an
// event over 64 KiB, and a refused message is lost. The commands cut their long lists
// themselves; this is the net under everything else.
func shorten(ctx context.Context, content *event.MessageEventContent, budget int) {
	if contentSize(content) <= budget {
		return
	}
	full := content.Body
	lines := strings.Split(full, "\n")
	content.Format, content.FormattedBody = "", ""
	cut := func(keep int) {
		left := len(lines) - keep
		content.Body = strings.Join(lines[:keep], "\n") +
			fmt.Sprintf("\n…and %d more lines: this message was too long for Matrix (%d KB), so Steward cut it short.", left, len(full)>>10)
	}
	// The most lines that fit; a single line too long is cut by the byte.
	lo, hi := 0, len(lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if cut(mid); contentSize(content) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	cut(lo)
	for lo == 0 && contentSize(content) > budget && len(lines[0]) > 0 {
		lines[0] = strings.ToValidUTF8(lines[0][:len(lines[0])/2], "")
		cut(0)
		content.Body = lines[0] + "…" + content.Body
	}
	zerolog.Ctx(ctx).Warn().Int("bytes", len(full)).Int("kept_lines", lo).Int("lines", len(lines)).
		Msg("Shortened a message too large for the homeserver")
}

func contentSize(content *event.MessageEventContent) int {
	data, err := json.Marshal(content)
	if err != nil {
		return 0
	}
	return len(data)
}

// tooLarge reports whether the homeserver refused a message for its size.
func tooLarge(err error) bool {
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) {
		return false
	}
	return (httpErr.Response != nil && httpErr.Response.StatusCode == http.StatusRequestEntityTooLarge) ||
		(httpErr.RespError != nil && httpErr.RespError.ErrCode == "M_TOO_LARGE")
}

// reportRefused tells the admin room that a message was refused for good (Steward
// was removed from the room, say), so a lost notice does not go unseen. One refused
// for its size is told in the admin room too, when it was for the admin room: the
// short notice fits where the message didn't.
func (o *Outbox) reportRefused(ctx context.Context, msg *state.OutboxMessage, err error) {
	big := tooLarge(err)
	if msg.RoomID == o.adminRoom && !big {
		return // nowhere better to say it; the log has it
	}
	code := "an error"
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.RespError != nil && httpErr.RespError.ErrCode != "" {
		code = httpErr.RespError.ErrCode
	}
	notice := render.New("I could not deliver a message to room ").Code(msg.RoomID.String()).
		Text(": the homeserver answered " + code + ". Am I still in that room?")
	if msg.Type == event.EventRedaction {
		var r redaction
		_ = json.Unmarshal(msg.Content, &r)
		notice = render.New("I could not remove the message ").Code(r.Redacts.String()).Text(" from room ").Code(msg.RoomID.String()).
			Text(": the homeserver answered " + code + ". Do I still have the power to remove messages there? It is still visible; a room admin can remove it.")
	}
	if big {
		notice = render.New("I could not deliver a message to ")
		if msg.RoomID == o.adminRoom {
			notice.Text("this room")
		} else {
			notice.Text("room ").Code(msg.RoomID.String())
		}
		notice.Text(fmt.Sprintf(": the homeserver refused it as too large (%d KB), so it is lost.", len(msg.Content)>>10))
	}
	if qErr := o.Send(ctx, o.adminRoom, notice.Notice()); qErr != nil {
		zerolog.Ctx(ctx).Err(qErr).Msg("Failed to queue delivery failure notice")
	}
}

// DrainOutbox gives the sender up to limit to empty the queue at shutdown.
func (o *Outbox) DrainOutbox(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		n, err := o.store.Queued(ctx)
		if err != nil || n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventSender is the part of the Matrix client the outbox needs.
type eventSender interface {
	SendMessageEvent(ctx context.Context, roomID id.RoomID, eventType event.Type, contentJSON any, extra ...mautrix.ReqSendEvent) (*mautrix.RespSendEvent, error)
	RedactEvent(ctx context.Context, roomID id.RoomID, eventID id.EventID, extra ...mautrix.ReqRedact) (*mautrix.RespSendEvent, error)
}

// outboxSender is the loop that empties the outbox.
type outboxSender struct {
	client eventSender
	outbox *state.Outbox
	wakeup chan struct{}
	// sleep waits d, or until wakeup fires; false once ctx has ended.
	sleep func(ctx context.Context, d time.Duration, wakeup <-chan struct{}) bool
	poll  time.Duration
	// synced, if set, is closed once the first sync of this run has been handled; by
	// then a message caught mid-send by a crash has been found in the sync if the
	// homeserver had it (see onOwnEvent), so it is not sent twice.
	synced <-chan struct{}
	// settle is how long a message caught mid-send by a crash waits after the first
	// sync before it is sent again (crashSettle).
	settle time.Duration
	// onRefused, if set, marks a message the homeserver refused for good failed and
	// tells of it; without it, the message is only marked failed.
	onRefused func(ctx context.Context, msg *state.OutboxMessage, err error) error
}

func (s *outboxSender) run(ctx context.Context) {
	log := zerolog.Ctx(ctx).With().Str("component", "outbox").Logger()
	backoff := time.Second
	for {
		msg, err := s.outbox.Next(ctx)
		if err != nil {
			log.Err(err).Msg("Failed to read the outbox")
		}
		if msg == nil {
			if !s.sleep(ctx, s.poll, s.wakeup) {
				return
			}
			continue
		}
		if msg.State == state.OutboxSending && s.synced != nil {
			// Steward died while sending this one. Wait for the sync to say whether
			// the homeserver got it, and for a request still on its way there to be
			// done, then look again.
			select {
			case <-s.synced:
			case <-ctx.Done():
				return
			}
			if !s.sleep(ctx, s.settle, nil) {
				return
			}
			s.synced = nil
			continue
		}
		content := msg.Content
		if msg.RelatesToMsg != 0 {
			if content, err = s.resolveRelation(ctx, msg); err != nil {
				log.Err(err).Int64("outbox_id", msg.ID).Msg("Dropping a reaction or edit whose message was never sent")
				if markErr := s.outbox.MarkFailed(ctx, msg.ID, err); markErr != nil {
					log.Err(markErr).Msg("Failed to mark message failed")
				}
				continue
			}
		}
		if err = s.outbox.MarkSending(ctx, msg.ID); err != nil {
			log.Err(err).Msg("Failed to mark message sending")
			if !s.sleep(ctx, backoff, nil) {
				return
			}
			continue
		}
		resp, err := s.send(ctx, msg, content)
		if err == nil {
			CrashPoint("message-sent")
			if err = s.outbox.MarkSent(ctx, msg.ID, resp.EventID); err != nil {
				log.Err(err).Msg("Failed to mark message sent")
			}
			backoff = time.Second
			continue
		}
		if ctx.Err() != nil {
			return
		}
		wait, permanent := classifySendError(err, backoff)
		msgLog := log.With().Int64("outbox_id", msg.ID).Stringer("room_id", msg.RoomID).Logger()
		if permanent {
			msgLog.Err(err).Msg("Homeserver refused message; giving up on it")
			refuse := func(ctx context.Context, msg *state.OutboxMessage, err error) error {
				return s.outbox.MarkFailed(ctx, msg.ID, err)
			}
			if s.onRefused != nil {
				refuse = s.onRefused
			}
			if markErr := refuse(ctx, msg, err); markErr != nil {
				// Still queued or sending: it is tried again, and given up on then.
				log.Err(markErr).Msg("Failed to mark message failed")
				if !s.sleep(ctx, backoff, nil) {
					return
				}
			}
			continue
		}
		msgLog.Warn().Err(err).Dur("retry_in", wait).Msg("Failed to send message; will retry")
		if err = s.outbox.MarkAttempt(ctx, msg.ID, err); err != nil {
			log.Err(err).Msg("Failed to record send attempt")
		}
		if wait >= backoff {
			backoff = min(backoff*2, 30*time.Second)
		}
		if !s.sleep(ctx, wait, nil) {
			return
		}
	}
}

// send hands msg to the homeserver, with content as it is to be sent.
func (s *outboxSender) send(ctx context.Context, msg *state.OutboxMessage, content json.RawMessage) (*mautrix.RespSendEvent, error) {
	if msg.Type != event.EventRedaction {
		return s.client.SendMessageEvent(ctx, msg.RoomID, msg.Type, content, mautrix.ReqSendEvent{TransactionID: msg.TxnID})
	}
	var r redaction
	if err := json.Unmarshal(content, &r); err != nil {
		return nil, fmt.Errorf("read queued redaction %d: %w", msg.ID, err)
	}
	// The same transaction ID on every try: a retry after a crash is deduplicated.
	return s.client.RedactEvent(ctx, msg.RoomID, r.Redacts, mautrix.ReqRedact{Reason: r.Reason, TxnID: msg.TxnID,
		Extra: map[string]any{state.TxnMarkerKey: msg.TxnID}})
}

// errNeverSent is why a reaction or edit is dropped: the message it refers to was
// refused by the homeserver, so there is nothing to react to or edit.
var errNeverSent = errors.New("the message it refers to was never sent")

// resolveRelation fills in the event ID of the earlier message msg reacts to or edits.
// The queue is sent in order, and msg was queued no earlier than that message
// (state.Outbox.AddAt), so it has been sent (or refused) by now.
func (s *outboxSender) resolveRelation(ctx context.Context, msg *state.OutboxMessage) (json.RawMessage, error) {
	target, err := s.outbox.Get(ctx, msg.RelatesToMsg)
	if err != nil {
		return nil, err
	}
	if target == nil || target.EventID == "" {
		return nil, errNeverSent
	}
	var content map[string]json.RawMessage
	if err = json.Unmarshal(msg.Content, &content); err != nil {
		return nil, err
	}
	var rel map[string]any
	if err = json.Unmarshal(content["m.relates_to"], &rel); err != nil || rel == nil {
		return nil, fmt.Errorf("message %d has no m.relates_to to fill in", msg.ID)
	}
	reply, isReply := rel["m.in_reply_to"].(map[string]any)
	if isReply {
		reply["event_id"] = target.EventID // a reply, or a thread's fallback
	}
	if !isReply || rel["rel_type"] == string(event.RelThread) {
		rel["event_id"] = target.EventID // a reaction, an edit, or a thread's root
	}
	if content["m.relates_to"], err = json.Marshal(rel); err != nil {
		return nil, err
	}
	return json.Marshal(content)
}

// classifySendError decides what to do after a failed send: wait and retry (a rate
// limit, an outage, a server error), or give up on the message (the server refused it
// for good, e.g. Steward is not in the room).
func classifySendError(err error, backoff time.Duration) (wait time.Duration, permanent bool) {
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) || httpErr.Response == nil {
		return backoff, false // network error, encryption needing the network, ...
	}
	status := httpErr.Response.StatusCode
	if status == http.StatusTooManyRequests || errors.Is(err, mautrix.MLimitExceeded) {
		return retryAfter(httpErr, backoff), false
	}
	if status >= 500 || status == http.StatusUnauthorized || status == http.StatusRequestTimeout {
		return backoff, false
	}
	return 0, true
}

// retryAfter reads how long the homeserver asked us to wait: Dendrite says it in the
// JSON body (retry_after_ms), others in the Retry-After header.
func retryAfter(httpErr mautrix.HTTPError, fallback time.Duration) time.Duration {
	if httpErr.RespError != nil {
		if ms, ok := httpErr.RespError.ExtraData["retry_after_ms"].(float64); ok && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	if secs, err := strconv.Atoi(httpErr.Response.Header.Get("Retry-After")); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	return fallback
}

// onOwnEvent notices Steward's own messages coming back, in the sync or in history
// read to fill a gap, and marks them sent: the answer to a send cut off by a crash is
// recovered this way, and the message is not sent again. The homeserver tags them with
// their transaction ID in the sync of the sending session; the content carries it too,
// for history, where the tag is missing.
func (b *Bot) onOwnEvent(ctx context.Context, evt *event.Event) {
	if evt.Sender != b.client.UserID || evt.StateKey != nil {
		return
	}
	txnID := evt.Unsigned.TransactionID
	if txnID == "" {
		txnID = state.TxnMarker(evt.Content.VeryRaw)
	}
	if txnID == "" {
		return
	}
	found, err := b.db.Outbox.MarkSentByTxn(ctx, txnID, evt.ID)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to match own message to the outbox")
		markBatchFailed(ctx)
	} else if found {
		select {
		case <-b.firstSync:
			// The sync was quicker than the send's answer: nothing to report.
		default:
			zerolog.Ctx(ctx).Info().Stringer("event_id", evt.ID).Msg("Found a message whose send was cut off by a stop; not sending it again")
		}
	}
}
