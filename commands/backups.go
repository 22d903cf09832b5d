package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/steward-bot/steward/backup"
	"github.com/steward-bot/steward/redact"
	"github.com/steward-bot/steward/render"
	"github.com/steward-bot/steward/state"
)

// Backups are the backup sets as the backup commands and the summary use them
// (backup.Manager).
type Backups interface {
	Sets() []*backup.Set
	Set(name string) (*backup.Set, bool)
	Overview(ctx context.Context) []backup.Overview
	Snapshots(ctx context.Context, s *backup.Set, n int) ([]backup.Snapshot, error)
	Browse(ctx context.Context, s *backup.Set, snapshot, path string) (backup.Snapshot, []backup.Node, error)
	Find(ctx context.Context, s *backup.Set, snapshot, path string) (backup.Snapshot, backup.Node, error)
	Run(ctx context.Context, id int64) (*state.BackupRun, error)
	ToStaging(ctx context.Context, s *backup.Set, snap backup.Snapshot, path string) (*backup.Restored, error)
	InPlace(ctx context.Context, s *backup.Set, snap backup.Snapshot, path string, undoes *state.BackupRun, progress func(step string)) (*backup.Restored, error)
	BackupNow(ctx context.Context, s *backup.Set) (*backup.BackupResult, error)
}

// Limits of the backup listings, so an answer stays one readable message.
const (
	// backupLookTimeout bounds what a command asks a repository while the room's
	// other commands wait: a hanging repository must not hold them.
	backupLookTimeout = 2 * time.Minute
	snapshotsDefault  = 10
	snapshotsMax      = 50
	browseMax         = 100
)

// backupFamily is the commands that show, run and restore backups.
type backupFamily struct {
	backups Backups
}

// backupCommands registers the backup family with the backup sets (nil when none are
// configured: the commands then say so).
func backupCommands(backups Backups) []*Command {
	f := &backupFamily{backups: backups}
	return []*Command{f.list(), f.snapshots(), f.browse(), f.restore(), f.backup()}
}

// backupErr turns what the backup desk refused into a plain answer: a path or
// snapshot it can't take, or the tool's own message about the repository.
func backupErr(s *backup.Set, err error) error {
	var pathErr *backup.PathError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pathErr):
		return UserErrorf("%s", pathErr.Msg)
	case backup.IsToolError(err):
		return UserErrorf("restic failed on the repository of %s: %s", s.Name, render.Shorten(redact.Secrets(err.Error()), 300))
	case errors.Is(err, context.DeadlineExceeded):
		return UserErrorf("The repository of %s did not answer within %s; it may be unreachable.", s.Name, render.Duration(backupLookTimeout))
	default:
		return err
	}
}

// backupSet finds the set an admin named.
func (f *backupFamily) backupSet(name string) (*backup.Set, error) {
	if f.backups == nil || len(f.backups.Sets()) == 0 {
		return nil, UserErrorf("No backup sets are configured (backups.sets in the config file).")
	}
	if s, ok := f.backups.Set(name); ok {
		return s, nil
	}
	names := make([]string, 0, len(f.backups.Sets()))
	for _, s := range f.backups.Sets() {
		names = append(names, s.Name)
	}
	return nil, UserErrorf("There is no backup set %q; the sets are %s.", name, strings.Join(names, ", "))
}

// list is !backups: every set at a glance, the title counting the sets that need a
// look (stale or unreadable, a failed check or drill, a stale or same-disk off-site).
func (f *backupFamily) list() *Command {
	return &Command{
		Name:    "backups",
		Section: SectionBackups,
		Help:    "Show the backup sets: newest snapshot, size, last check, last drill, off-site copy",
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			if f.backups == nil || len(f.backups.Sets()) == 0 {
				return UserErrorf("No backup sets are configured (backups.sets in the config file).")
			}
			lookCtx, cancel := context.WithTimeout(ctx, backupLookTimeout)
			defer cancel()
			return ce.Reply(ctx, writeBackups(new(render.Message), f.backups.Overview(lookCtx), ce.proc.deps.Now()))
		},
	}
}

// writeBackups renders the overview of the sets into msg (for !backups and the weekly
// summary).
func writeBackups(msg *render.Message, overview []backup.Overview, now time.Time) *render.Message {
	rows := make([][]string, 0, len(overview))
	problems := 0
	for _, o := range overview {
		newest, size := "none", "–"
		switch {
		case o.Err != nil && o.Newest == nil:
			newest = "can't read: " + render.Shorten(o.Err.Error(), 60)
		case o.Newest != nil:
			newest = render.Duration(now.Sub(o.Newest.Time)) + " ago (" + o.Newest.ShortID + ")"
			if o.Size.Files > 0 || o.Size.Bytes > 0 {
				size = backup.HumanBytes(o.Size.Bytes)
			}
		}
		if o.Stale {
			newest = "⚠️ " + newest + ", expected every " + render.Duration(o.Set.Every)
		}
		check := "never"
		if c := o.LastCheck; c != nil {
			check = render.Duration(now.Sub(c.Started)) + " ago: " + map[string]string{backup.OutcomeOK: "ok", backup.OutcomeFailed: "⚠️ failed", backup.OutcomeInterrupted: "interrupted", "": "running"}[c.Outcome]
		}
		drill := "never"
		if d := o.LastDrill; d != nil {
			drill = render.Duration(now.Sub(d.Started)) + " ago"
		}
		if o.LastFailedDrill != nil {
			drill = "⚠️ failed " + render.Duration(now.Sub(o.LastFailedDrill.Started)) + " ago; last good: " + drill
		}
		if o.Stale || o.Err != nil || strings.Contains(check, "failed") || o.LastFailedDrill != nil || strings.Contains(o.Offsite, "stale") || strings.Contains(o.Offsite, "same disk") {
			problems++
		}
		rows = append(rows, []string{o.Set.Name, newest, size, check, drill, o.Offsite})
	}
	title := fmt.Sprintf("%d backup sets, all in order:", len(overview))
	if problems > 0 {
		title = fmt.Sprintf("%d backup sets, %d need a look:", len(overview), problems)
	}
	return msg.Text(title).Line().Table([]string{"Set", "Newest snapshot", "Size", "Last check", "Last good drill", "Off-site"}, rows)
}

// snapshots lists a set's newest snapshots.
func (f *backupFamily) snapshots() *Command {
	return &Command{
		Name:    "snapshots",
		Section: SectionBackups,
		Help:    "List a backup set's newest snapshots",
		Args:    fmt.Sprintf("SET [N, default %d, at most %d]", snapshotsDefault, snapshotsMax),
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			if len(ce.Args) < 1 || len(ce.Args) > 2 {
				return UserErrorf("Usage: %ssnapshots SET [N]", ce.proc.settings.Prefix)
			}
			s, err := f.backupSet(ce.Args[0])
			if err != nil {
				return err
			}
			n := snapshotsDefault
			if len(ce.Args) == 2 {
				if n, err = strconv.Atoi(ce.Args[1]); err != nil || n < 1 {
					return UserErrorf("%q is not a number of snapshots.", ce.Args[1])
				}
				n = min(n, snapshotsMax)
			}
			lookCtx, cancel := context.WithTimeout(ctx, backupLookTimeout)
			defer cancel()
			snaps, err := f.backups.Snapshots(lookCtx, s, n)
			if err != nil {
				return backupErr(s, err)
			}
			if len(snaps) == 0 {
				return ce.Reply(ctx, render.New("The repository of "+s.Name+" holds no snapshot of this set."))
			}
			now := ce.proc.deps.Now()
			rows := make([][]string, 0, len(snaps))
			for _, sn := range snaps {
				rows = append(rows, []string{sn.ShortID, sn.Time.UTC().Format("2006-01-02 15:04"), render.Duration(now.Sub(sn.Time)) + " ago", sn.Host, strings.Join(sn.Paths, " ")})
			}
			return ce.Reply(ctx, fitRows(rows, "", func(rows [][]string) *render.Message {
				return render.New(fmt.Sprintf("The newest %d snapshots of %s (times in UTC):", len(snaps), s.Name)).Line().
					Table([]string{"ID", "Taken", "Age", "Host", "Paths"}, rows)
			}))
		},
	}
}

// browse lists what a snapshot holds under a path.
func (f *backupFamily) browse() *Command {
	return &Command{
		Name:    "browse",
		Section: SectionBackups,
		Help:    "List what a snapshot holds in a folder",
		Args:    "SET SNAPSHOT|latest PATH",
		Role:    RoleAdmin,
		Effect:  ReadsOnly,
		Func: func(ctx context.Context, ce *Event) error {
			if len(ce.Args) != 3 {
				return UserErrorf("Usage: %sbrowse SET SNAPSHOT|latest PATH, like %sbrowse cloud latest /srv", ce.proc.settings.Prefix, ce.proc.settings.Prefix)
			}
			s, err := f.backupSet(ce.Args[0])
			if err != nil {
				return err
			}
			lookCtx, cancel := context.WithTimeout(ctx, backupLookTimeout)
			defer cancel()
			snap, nodes, err := f.backups.Browse(lookCtx, s, ce.Args[1], ce.Args[2])
			if err != nil {
				return backupErr(s, err)
			}
			if len(nodes) == 0 {
				return ce.Reply(ctx, render.New("").Code(ce.Args[2]).Text(" in snapshot "+snap.ShortID+" of "+s.Name+" is a file, or an empty folder."))
			}
			rows := make([][]string, 0, min(len(nodes), browseMax))
			for _, n := range nodes[:min(len(nodes), browseMax)] {
				size := ""
				if n.Type == "file" {
					size = backup.HumanBytes(n.Size)
				}
				rows = append(rows, []string{n.Path, n.Type, size, n.MTime.UTC().Format("2006-01-02 15:04")})
			}
			title := fmt.Sprintf("%s in snapshot %s of %s (%d entries", ce.Args[2], snap.ShortID, s.Name, len(nodes))
			if len(nodes) > browseMax {
				title += fmt.Sprintf(", the first %d shown", browseMax)
			}
			return ce.Reply(ctx, fitRows(rows, "name a deeper folder to see more", func(rows [][]string) *render.Message {
				return render.New(title+"):").Line().Table([]string{"Path", "Type", "Size", "Modified (UTC)"}, rows)
			}))
		},
	}
}

// restoreArgs is what !restore was asked: SET [SNAPSHOT] PATH [--in-place], or
// --undo ID.
type restoreArgs struct {
	set, snapshot, path string
	inPlace             bool
	undo                int64
}

func parseRestore(args []string) (restoreArgs, bool) {
	var r restoreArgs
	var rest []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--in-place":
			r.inPlace = true
		case "--undo":
			if i+1 >= len(args) {
				return r, false
			}
			id, err := strconv.ParseInt(args[i+1], 10, 64)
			if err != nil || id < 1 {
				return r, false
			}
			r.undo, i = id, i+1
		default:
			rest = append(rest, args[i])
		}
	}
	if r.undo != 0 {
		return r, len(rest) == 0 && !r.inPlace
	}
	switch len(rest) {
	case 2:
		r.set, r.path = rest[0], rest[1]
	case 3:
		r.set, r.snapshot, r.path = rest[0], rest[1], rest[2]
	default:
		return r, false
	}
	return r, true
}

// restoreSafe reports whether a !restore goes to the staging directory (no
// --in-place, no --undo): it touches nothing live, so needs no approval.
func restoreSafe(args []string) bool {
	r, ok := parseRestore(args)
	return ok && !r.inPlace && r.undo == 0
}

// restore restores from a backup set: to the staging directory by default;
// over the live files with --in-place, after approval, keeping the files it replaces
// so that --undo can put them back.
func (f *backupFamily) restore() *Command {
	return &Command{
		Name:        "restore",
		Section:     SectionBackups,
		Help:        "Restore a path from a snapshot to the staging folder; --in-place over the live files (approval needed, undone with --undo ID)",
		Args:        "SET [SNAPSHOT] PATH [--in-place] | --undo ID",
		Role:        RoleAdmin,
		Effect:      Changes,
		Destructive: true,
		SafeWith:    restoreSafe,
		Long:        true,
		Describe: func(ctx context.Context, ce *Event) (string, error) {
			t, err := f.restoreTarget(ctx, ce)
			if err != nil {
				return "", err
			}
			ce.Pin = t.snap.ID
			if t.undoes != nil {
				path, aside, _ := backup.RestoreState(t.undoes)
				return fmt.Sprintf("undoes restore %d of %s: puts back the files it replaced (kept at %s) over %s%s", t.undoes.ID, t.set.Name, aside, path, t.containersNote()), nil
			}
			return fmt.Sprintf("restores %s from snapshot %s of %s (%s) over the live files; the files it replaces are kept so it can be undone%s",
				t.path, t.snap.ShortID, t.set.Name, t.snap.Time.UTC().Format("2006-01-02 15:04 UTC"), t.containersNote()), nil
		},
		Func: func(ctx context.Context, ce *Event) error {
			t, err := f.restoreTarget(ctx, ce)
			if err != nil {
				return err
			}
			if ce.Pin != "" && t.snap.ID != ce.Pin {
				return UserErrorf("The snapshot is another one than the request was about; ask again.")
			}
			what := "Restoring " + t.path + " from " + t.set.Name + " " + t.snap.ShortID
			if !t.inPlace {
				what += " to the staging folder"
			}
			msgID, err := ce.proc.deps.Messenger.Post(ctx, ce.RoomID, ce.EventID, ce.ThreadRoot, render.New(what+"…"))
			if err != nil {
				return err
			}
			var res *backup.Restored
			if t.inPlace {
				res, err = f.backups.InPlace(ctx, t.set, t.snap, t.path, t.undoes, func(step string) {
					if err := ce.proc.deps.Messenger.Edit(ctx, ce.RoomID, msgID, render.New(what+": "+restoreStepText[step]+"…")); err != nil {
						zerolog.Ctx(ctx).Err(err).Msg("Failed to queue restore progress")
					}
				})
			} else {
				res, err = f.backups.ToStaging(ctx, t.set, t.snap, t.path)
			}
			if err != nil {
				zerolog.Ctx(ctx).Err(err).Str("backup_set", t.set.Name).Str("path", t.path).Msg("Restore failed")
				if plain := backupErr(t.set, err); plain != err {
					err = plain
				}
				var userErr UserError
				text := "the details are in Steward's log"
				if errors.As(err, &userErr) {
					text = userErr.Msg
				}
				msg := render.New("❌ The restore of ").Code(t.path).Text(" failed: " + text + ".")
				var aside *backup.AsideError
				switch {
				case errors.As(err, &aside):
					msg.Text(" Not all is as it was: " + aside.Where + ".")
				case t.inPlace:
					msg.Text(" The live files are as they were.")
				}
				if editErr := ce.proc.deps.Messenger.Edit(ctx, ce.RoomID, msgID, msg); editErr != nil {
					return editErr
				}
				return AnsweredError{Outcome: state.OutcomeError, Detail: err.Error()}
			}
			took := res.Duration.Round(100 * time.Millisecond)
			msg := render.New(fmt.Sprintf("✅ Restored %d files (%s) of ", res.Files, backup.HumanBytes(res.Bytes))).Code(t.path).
				Text(" from snapshot " + res.Snapshot + " of " + t.set.Name + " in " + took.String())
			if t.undoes != nil {
				msg = render.New(fmt.Sprintf("↩️ Undid restore %d: the files it replaced are back at ", t.undoes.ID)).Code(t.path).
					Text(fmt.Sprintf(" (%d files, %s).", res.Files, backup.HumanBytes(res.Bytes)))
				if res.Aside != "" {
					msg.Text(" What the restore had written is kept at ").Code(res.Aside).Text("; ").
						Code(fmt.Sprintf("%srestore --undo %d", ce.proc.settings.Prefix, res.RunID)).Text(" puts it back.")
				}
			} else if t.inPlace {
				msg.Text(", in place.")
				if res.Aside != "" {
					msg.Text(" The files it replaced are kept at ").Code(res.Aside).Text("; ").
						Code(fmt.Sprintf("%srestore --undo %d", ce.proc.settings.Prefix, res.RunID)).Text(" puts them back.")
				}
			} else {
				msg.Text(", to ").Code(res.Dir).Text(". The live files were not touched.")
			}
			if len(res.NotStarted) > 0 {
				msg.Text(" ⚠️ Not started again: " + strings.Join(res.NotStarted, ", ") + "; start them by hand (the backup's alert says so until they run).")
			}
			if err = ce.proc.deps.Messenger.Edit(ctx, ce.RoomID, msgID, msg); err != nil {
				return err
			}
			return AnsweredError{Outcome: state.OutcomeOK, Detail: fmt.Sprintf("restore %d: %s from %s %s to %s, %d files, %s, in %s",
				res.RunID, t.path, t.set.Name, res.Snapshot, res.Dir, res.Files, backup.HumanBytes(res.Bytes), took)}
		},
	}
}

// restoreStepText says what an in-place restore's step does, for its progress message.
var restoreStepText = map[string]string{
	backup.StepStopContainers:  "stopping the containers",
	backup.StepSetAside:        "setting the live files aside",
	backup.StepRestore:         "restoring",
	backup.StepStartContainers: "starting the containers again",
}

// restoreTarget is a !restore resolved: which set, snapshot and path, and the restore
// it undoes.
type restoreTarget struct {
	set     *backup.Set
	snap    backup.Snapshot
	path    string
	inPlace bool
	undoes  *state.BackupRun
}

func (t restoreTarget) containersNote() string {
	if !t.inPlace || len(t.set.Containers) == 0 {
		return ""
	}
	return "; the containers " + strings.Join(t.set.Containers, ", ") + " are stopped meanwhile and started after"
}

func (f *backupFamily) restoreTarget(ctx context.Context, ce *Event) (restoreTarget, error) {
	r, ok := parseRestore(ce.Args)
	if !ok {
		return restoreTarget{}, UserErrorf("Usage: %srestore SET [SNAPSHOT] PATH [--in-place], or %srestore --undo ID. %ssnapshots SET lists the snapshots.",
			ce.proc.settings.Prefix, ce.proc.settings.Prefix, ce.proc.settings.Prefix)
	}
	if f.backups == nil {
		return restoreTarget{}, UserErrorf("No backup sets are configured (backups.sets in the config file).")
	}
	if r.undo != 0 {
		run, err := f.backups.Run(ctx, r.undo)
		if err != nil {
			return restoreTarget{}, err
		}
		if run == nil || run.Kind != backup.KindRestore {
			return restoreTarget{}, UserErrorf("There is no restore %d.", r.undo)
		}
		path, aside, inPlace := backup.RestoreState(run)
		if !inPlace || run.Outcome != backup.OutcomeOK || aside == "" {
			return restoreTarget{}, UserErrorf("Restore %d replaced no live files, so there is nothing to put back.", r.undo)
		}
		s, err := f.backupSet(run.Set)
		if err != nil {
			return restoreTarget{}, err
		}
		return restoreTarget{set: s, path: path, inPlace: true, undoes: run, snap: backup.Snapshot{ShortID: run.Snapshot}}, nil
	}
	s, err := f.backupSet(r.set)
	if err != nil {
		return restoreTarget{}, err
	}
	if r.inPlace {
		if _, err = backup.CleanPath(r.path); err == nil {
			_, err = backup.InTargets(r.path, s.RestoreTargets)
		}
		if err != nil {
			return restoreTarget{}, backupErr(s, err)
		}
	}
	lookCtx, cancel := context.WithTimeout(ctx, backupLookTimeout)
	defer cancel()
	snap, _, err := f.backups.Find(lookCtx, s, r.snapshot, r.path)
	if err != nil {
		return restoreTarget{}, backupErr(s, err)
	}
	return restoreTarget{set: s, snap: snap, path: r.path, inPlace: r.inPlace}, nil
}

// backup runs a set's configured backup command now.
func (f *backupFamily) backup() *Command {
	return &Command{
		Name:    "backup",
		Section: SectionBackups,
		Help:    "Run a backup set's backup command now, and report the snapshot it made",
		Args:    "SET",
		Role:    RoleAdmin,
		Effect:  Changes,
		Long:    true,
		Func: func(ctx context.Context, ce *Event) error {
			if len(ce.Args) != 1 {
				return UserErrorf("Usage: %sbackup SET", ce.proc.settings.Prefix)
			}
			s, err := f.backupSet(ce.Args[0])
			if err != nil {
				return err
			}
			if len(s.Run) == 0 {
				return UserErrorf("Set %s has no backup command: add one as backups.sets[].run in the config file.", s.Name)
			}
			msgID, err := ce.proc.deps.Messenger.Post(ctx, ce.RoomID, ce.EventID, ce.ThreadRoot, render.New("Running the backup of "+s.Name+"…"))
			if err != nil {
				return err
			}
			res, err := f.backups.BackupNow(ctx, s)
			if res == nil {
				_ = ce.proc.deps.Messenger.Edit(ctx, ce.RoomID, msgID, render.New("❌ Couldn't run the backup of "+s.Name+"; the details are in Steward's log."))
				return AnsweredError{Outcome: state.OutcomeError, Detail: fmt.Sprint(err)}
			}
			if err != nil {
				msg := render.New("❌ The backup of " + s.Name + " failed: " + err.Error() + ".")
				if res.Output != "" {
					msg.Line().Text("Its last lines (secrets masked):").CodeBlock(redact.Secrets(res.Output))
				}
				if editErr := ce.proc.deps.Messenger.Edit(ctx, ce.RoomID, msgID, msg); editErr != nil {
					return editErr
				}
				return AnsweredError{Outcome: state.OutcomeError, Detail: err.Error()}
			}
			took := res.Duration.Round(time.Second)
			if err = ce.proc.deps.Messenger.Edit(ctx, ce.RoomID, msgID, render.New("✅ Backed up "+s.Name+": snapshot "+res.Snapshot.ShortID+" in "+took.String()+".")); err != nil {
				return err
			}
			return AnsweredError{Outcome: state.OutcomeOK, Detail: "snapshot " + res.Snapshot.ShortID + " in " + took.String()}
		},
	}
}
