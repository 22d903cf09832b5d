package bot

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"

	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/state"
)

// A script's notice mentions nobody, whatever its text says: "@room" in a backup
// job's message must not ping the whole group.
func TestQueueNoticeMentionsNobody(t *testing.T) {
	ctx := t.Context()
	db, err := state.Open(ctx, filepath.Join(t.TempDir(), "steward.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := &config.Config{Matrix: config.Matrix{AdminRoom: "!admins:example.org", GroupRoom: "#friends:example.org"}}
	if err = db.KV.Set(ctx, roomIDKey(cfg.Matrix.GroupRoom), "!friends:example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err = QueueNotice(ctx, db, cfg, "group", "@room the backup finished, @alice:example.org"); err != nil {
		t.Fatal(err)
	}
	msg, err := db.Outbox.Next(ctx)
	if err != nil || msg == nil {
		t.Fatalf("Next: %v, %v", msg, err)
	}
	var content event.MessageEventContent
	if err = json.Unmarshal(msg.Content, &content); err != nil {
		t.Fatal(err)
	}
	if content.Mentions == nil || content.Mentions.Room || len(content.Mentions.UserIDs) != 0 {
		t.Errorf("m.mentions = %+v in %s, want present and empty", content.Mentions, msg.Content)
	}
}
