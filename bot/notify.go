package bot

import (
	"context"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// QueueNotice puts text in the outbox for the admin or group room, for scripts (a
// backup job, a cron check) that want to tell the team something through Steward. The
// running bot sends it, encrypted, even if the homeserver is down right now.
//
// Rooms configured by alias are not resolved here (that needs the network): the room
// must be the ID Steward recorded when it joined.
func QueueNotice(ctx context.Context, db *state.DB, cfg *config.Config, room, text string) (int64, error) {
	var configured string
	switch room {
	case "admin":
		configured = cfg.Matrix.AdminRoom
	case "group":
		configured = cfg.Matrix.GroupRoom
	default:
		return 0, fmt.Errorf("unknown room %q: use admin or group", room)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return 0, fmt.Errorf("the text is empty")
	}
	roomID, err := db.KV.Get(ctx, roomIDKey(configured))
	if err != nil {
		return 0, err
	}
	if roomID == "" {
		return 0, fmt.Errorf("Steward has not resolved the %s room %s yet: start it once first", room, configured)
	}
	content := render.New(text).Notice()
	// A script's text mentions nobody: "@room" or a name in it must not ping anyone.
	content.Mentions = &event.Mentions{}
	return db.Outbox.Add(ctx, id.RoomID(roomID), event.EventMessage, content, "")
}

// roomIDKey is where the room ID that a configured room resolved to is remembered.
func roomIDKey(configured string) string { return "room_id:" + configured }
