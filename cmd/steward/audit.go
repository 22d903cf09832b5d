package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/bot"
	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/state"
)

// cmdAudit runs `steward audit verify|export`: the decision log, read from outside the
// bot, so anyone on the team can check it or take it off the server.
func cmdAudit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		fmt.Fprint(stderr, "steward audit: say verify or export\n\n"+usage)
		return 2
	}
	fs, path := flagSet("audit "+args[0], stderr)
	format := fs.String("format", "jsonl", "export format: jsonl or csv")
	output := fs.String("output", "", "export to this file instead of standard output")
	if fs.Parse(args[1:]) != nil {
		return 2
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return 1
	}
	dbPath := filepath.Join(cfg.DataDir, bot.DatabaseFile)
	if _, err := os.Stat(dbPath); err != nil {
		fmt.Fprintf(stderr, "steward audit: no database at %s\n", dbPath)
		return 1
	}
	ctx := context.Background()
	db, err := state.Open(ctx, dbPath, zerolog.Nop())
	if err != nil {
		fmt.Fprintf(stderr, "steward audit: %v\n", err)
		return 1
	}
	defer db.Close()

	if args[0] == "verify" {
		return auditVerify(ctx, db, stdout, stderr)
	}
	if *format != "jsonl" && *format != "csv" {
		fmt.Fprintf(stderr, "steward audit export: unknown format %q: use jsonl or csv\n", *format)
		return 2
	}
	out := stdout
	if *output != "" {
		f, err := os.OpenFile(*output, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "steward audit export: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	if err = auditExport(ctx, db, *format, out); err != nil {
		fmt.Fprintf(stderr, "steward audit export: %v\n", err)
		return 1
	}
	return 0
}

func auditVerify(ctx context.Context, db *state.DB, stdout, stderr io.Writer) int {
	checked, err := db.Audit.Verify(ctx)
	var chainErr *state.ChainError
	switch {
	case errors.As(err, &chainErr):
		fmt.Fprintf(stderr, "The decision log is BROKEN at entry %d: %s. %d entries before it are intact.\n", chainErr.EntryID, chainErr.Reason, checked)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "steward audit verify: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "The decision log is intact: %d entries, each linked to the one before.\n", checked)
	return 0
}

var csvHeader = []string{"id", "time", "actor", "actor_device", "room_id", "event_id", "action", "arguments", "outcome", "detail", "parent_id", "prev_hash", "hash"}

// csvCell keeps a cell of the log from being read as a formula by a spreadsheet: the
// log holds what anyone typed (a command's arguments, an unknown command), and a cell
// starting with = + - @ (or a tab or carriage return, which some spreadsheets skip
// first) would run as one. Such a cell gets a leading apostrophe, which spreadsheets
// take as "text"; the JSON export keeps every value as it is, for verifying.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func auditExport(ctx context.Context, db *state.DB, format string, out io.Writer) error {
	if format == "jsonl" {
		enc := json.NewEncoder(out)
		return db.Audit.Each(ctx, func(e *state.AuditEntry) error { return enc.Encode(e) })
	}
	w := csv.NewWriter(out)
	if err := w.Write(csvHeader); err != nil {
		return err
	}
	err := db.Audit.Each(ctx, func(e *state.AuditEntry) error {
		return w.Write([]string{
			strconv.FormatInt(e.ID, 10), e.Time.UTC().Format(time.RFC3339Nano), csvCell(e.Actor.String()), csvCell(e.ActorDevice.String()),
			csvCell(e.RoomID.String()), csvCell(e.EventID.String()), csvCell(e.Action), csvCell(e.Arguments), csvCell(e.Outcome), csvCell(e.Detail),
			strconv.FormatInt(e.ParentID, 10), e.PrevHash, e.Hash,
		})
	})
	if err != nil {
		return err
	}
	w.Flush()
	return w.Error()
}

// logWitness is !log verify's witness: the checkpoints come from the admin room, read
// by the running bot with its keys; the comparison is the decision log's.
type logWitness struct {
	*bot.Bot
	*state.Audit
}

var _ commands.LogWitness = logWitness{}
