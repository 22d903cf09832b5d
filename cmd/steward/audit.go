package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/bot"
	"github.com/steward-bot/steward/commands"
	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/state"
)

// cmdAudit runs `steward audit verify|export`: the decision log, read from outside the
// bot, so anyone on the team can check it or take it off the server.
func cmdAudit(args []string, stdout, stderr io.Writer) int {
	opts, code := parseAuditArgs(args, stderr)
	if code != 0 {
		return code
	}
	cfg, ok := loadConfig(opts.config, stderr)
	if !ok {
		return 1
	}
	dbPath := filepath.Join(cfg.DataDir, bot.DatabaseFile)
	if _, err := os.Stat(dbPath); err != nil {
		fmt.Fprintf(stderr, "steward audit: no database at %s\n", dbPath)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := state.OpenCurrent(ctx, dbPath, zerolog.Nop())
	if err != nil {
		fmt.Fprintf(stderr, "steward audit: %v\n", err)
		return 1
	}
	defer db.Close()

	if opts.verb == "verify" {
		code := auditVerify(ctx, db, stdout, stderr)
		if opts.room {
			code = max(code, auditVerifyRoom(ctx, cfg, db, stdout, stderr))
		}
		return code
	}
	out := stdout
	if opts.output != "" {
		f, err := os.OpenFile(opts.output, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "steward audit export: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	if err = auditExport(ctx, db, opts.format, out); err != nil {
		fmt.Fprintf(stderr, "steward audit export: %v\n", err)
		return 1
	}
	return 0
}

// auditOptions are the arguments of `steward audit`.
type auditOptions struct {
	verb, config string
	// room (verify) also compares the log with the checkpoints in the admin room.
	room bool
	// format and output are export's.
	format, output string
}

// parseAuditArgs reads `steward audit`'s arguments; a non-zero code is the exit status
// of a usage error, already explained on stderr.
func parseAuditArgs(args []string, stderr io.Writer) (auditOptions, int) {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		fmt.Fprint(stderr, "steward audit: say verify or export\n\n"+usage)
		return auditOptions{}, 2
	}
	opts := auditOptions{verb: args[0]}
	fs, path := flagSet("audit "+args[0], stderr)
	if opts.verb == "verify" {
		fs.BoolVar(&opts.room, "room", false, "also compare the log with the checkpoints in the admin room")
	} else {
		fs.StringVar(&opts.format, "format", "jsonl", "export format: jsonl or csv")
		fs.StringVar(&opts.output, "output", "", "export to this file instead of standard output")
	}
	if fs.Parse(args[1:]) != nil {
		return auditOptions{}, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "steward audit %s: unexpected argument %q\n", opts.verb, fs.Arg(0))
		return auditOptions{}, 2
	}
	if opts.verb == "export" && opts.format != "jsonl" && opts.format != "csv" {
		fmt.Fprintf(stderr, "steward audit export: unknown format %q: use jsonl or csv\n", opts.format)
		return auditOptions{}, 2
	}
	opts.config = *path
	return opts, 0
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

// roomReadTimeout bounds reading the admin room's history, so a homeserver that
// accepts connections but never answers does not hang the check.
const roomReadTimeout = 5 * time.Minute

// auditVerifyRoom reads the checkpoints back from the admin room, with Steward's
// token and keys but without the bot, and compares the log with them as !log verify
// does.
func auditVerifyRoom(ctx context.Context, cfg *config.Config, db *state.DB, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, roomReadTimeout)
	defer cancel()
	witness, err := bot.OpenWitness(ctx, cfg, db)
	if err != nil {
		fmt.Fprintf(stderr, "steward audit verify --room: %v\n", err)
		return 1
	}
	defer witness.Close()
	checkpoints, err := witness.Checkpoints(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "steward audit verify --room: %s: %v\n", bot.ErrRoomUnreadable, err)
		return 1
	}
	report, err := db.Audit.CheckCheckpoints(ctx, checkpoints)
	if err != nil {
		fmt.Fprintf(stderr, "steward audit verify --room: compare the log with its checkpoints: %v\n", err)
		return 1
	}
	out, code := stdout, 0
	if !report.Fits() {
		out, code = stderr, 1
	}
	fmt.Fprintln(out, commands.CheckpointVerdict(report).Plain())
	fmt.Fprintln(out, checkpointSummary(report))
	return code
}

// checkpointSummary is the last line of `audit verify --room`: how many checkpoints
// were compared and what came of it, for a script or a cron mail's subject.
func checkpointSummary(r *state.CheckpointReport) string {
	verdict := "all fit"
	switch {
	case r.Misfit != nil:
		verdict = fmt.Sprintf("the checkpoint of entry #%d does not fit", r.Misfit.Checkpoint.ID)
	case r.Compared == 0:
		verdict = "nothing to compare"
	}
	line := fmt.Sprintf("Checkpoints: %d compared, %s", r.Compared, verdict)
	if len(r.Redacted) > 0 {
		line += fmt.Sprintf("; %d REDACTED", len(r.Redacted))
	}
	if r.Unreadable > 0 {
		line += fmt.Sprintf("; %d of Steward's messages unreadable", r.Unreadable)
	}
	if r.KeysMissing > 0 {
		line += fmt.Sprintf(" (%d KEYS MISSING)", r.KeysMissing)
	}
	return line + "."
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
