// Command steward runs the Steward Matrix bot and its operator tools. This file parses
// flags and runs the subcommands; wire.go builds the running Steward from its parts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/bot"
	"github.com/steward-bot/steward/config"
	"github.com/steward-bot/steward/state"
)

// exitNeedsOperator is the exit status for a failure that restarting cannot mend; the
// systemd unit does not restart on it (RestartPreventExitStatus).
const exitNeedsOperator = 3

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Steward: a Matrix bot that helps a group of friends run their server as a team.

Usage:
  steward run [--config FILE] [--reset-cross-signing]
                                        run the bot
  steward check-config [--config FILE]  check the configuration and list every problem
  steward notify [--config FILE] [--room admin|group] TEXT
                                        queue a notice for a room; the running bot sends it
  steward audit verify [--config FILE] [--room]
                                        check that the decision log's hash chain is intact; with
                                        --room, also read the checkpoints back from the admin room
                                        (Steward's token and keys, no sync) and name the first the
                                        log no longer fits, and every redacted one; exit 1 if not
  steward audit export [--config FILE] [--format jsonl|csv] [--output FILE]
                                        write the decision log out
  steward healthcheck [--config FILE]   exit 0 when the running Steward is ready (its /readyz), 1 when not:
                                        the container image's health check
  steward version                       print the version

The config file is --config (or -c), else $STEWARD_CONFIG, else ./steward.yaml.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, so it can be tested.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stderr)
	case "check-config":
		return cmdCheckConfig(args[1:], stdout, stderr)
	case "notify":
		return cmdNotify(args[1:], stdout, stderr)
	case "audit":
		return cmdAudit(args[1:], stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "steward", buildVersion())
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "steward: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}

// flagSet returns a flag set with the --config/-c flag every subcommand shares.
func flagSet(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("steward "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := os.Getenv("STEWARD_CONFIG")
	if def == "" {
		def = "steward.yaml"
	}
	path := fs.String("config", def, "configuration file")
	fs.StringVar(path, "c", def, "configuration file (shorthand)")
	return fs, path
}

// loadConfig loads the config and prints every problem with its key.
func loadConfig(path string, stderr io.Writer) (*config.Config, bool) {
	cfg, err := readConfig(path)
	if err == nil {
		return cfg, true
	}
	var problems *config.Problems
	if !errors.As(err, &problems) {
		fmt.Fprintf(stderr, "steward: %v\n", err)
		return nil, false
	}
	fmt.Fprintf(stderr, "%s has %d problem(s):\n", path, len(*problems))
	for _, line := range problemLines(err) {
		fmt.Fprintf(stderr, "  %s\n", line)
	}
	return nil, false
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs, path := flagSet("check-config", stderr)
	if fs.Parse(args) != nil {
		return 2
	}
	if _, ok := loadConfig(*path, stderr); !ok {
		return 1
	}
	fmt.Fprintf(stdout, "%s is valid\n", *path)
	return 0
}

func newLogger(cfg *config.Config, out io.Writer) zerolog.Logger {
	// Millisecond timestamps: enough to follow one command through the log.
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	level, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	if cfg.Log.Format == "console" {
		out = zerolog.ConsoleWriter{Out: out, TimeFormat: time.DateTime}
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger()
}

func cmdRun(args []string, stderr io.Writer) int {
	fs, path := flagSet("run", stderr)
	var opts runOptions
	fs.BoolVar(&opts.ResetCrossSigning, "reset-cross-signing", false, "create new cross-signing keys when the recovery key file is lost")
	if fs.Parse(args) != nil {
		return 2
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return 1
	}
	opts.configPath = *path
	log := newLogger(cfg, stderr)
	log.Info().Str("version", buildVersion()).Str("config", *path).Msg("Starting Steward")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	opts.reloadSignals = hup
	// Everything Steward writes (database, keys) is for its eyes only.
	syscall.Umask(0o077)
	if err := serve(ctx, cfg, opts, log); err != nil {
		log.Err(err).Msg("Steward stopped with an error")
		if errors.Is(err, bot.ErrDeviceGone) {
			return exitNeedsOperator
		}
		return 1
	}
	log.Info().Msg("Steward stopped")
	return 0
}

func cmdNotify(args []string, stdout, stderr io.Writer) int {
	fs, path := flagSet("notify", stderr)
	room := fs.String("room", "admin", "which room: admin or group")
	if fs.Parse(args) != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "steward notify: the text to send is missing")
		return 2
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return 1
	}
	if *room != "admin" && *room != "group" {
		fmt.Fprintf(stderr, "steward notify: unknown room %q: use admin or group\n", *room)
		return 1
	}
	dbPath := filepath.Join(cfg.DataDir, bot.DatabaseFile)
	if _, err := os.Stat(dbPath); err != nil {
		fmt.Fprintf(stderr, "steward notify: no database at %s: start Steward once first\n", dbPath)
		return 1
	}
	ctx := context.Background()
	db, err := state.OpenCurrent(ctx, dbPath, zerolog.Nop())
	if err != nil {
		fmt.Fprintf(stderr, "steward notify: %v\n", err)
		return 1
	}
	defer db.Close()
	msgID, err := bot.QueueNotice(ctx, db, cfg, *room, strings.Join(fs.Args(), " "))
	if err != nil {
		fmt.Fprintf(stderr, "steward notify: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "queued as message %d\n", msgID)
	return 0
}
