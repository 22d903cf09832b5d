package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Backups are the backup sets Steward keeps watch over: restic repositories whose
// snapshots must be fresh, intact, kept off-site and restorable.
type Backups struct {
	// StagingDir is where !restore puts restored files, unless --in-place.
	// Default: data_dir/restores.
	StagingDir string `yaml:"staging_dir"`
	// Interval is how often each set's newest snapshot is looked up.
	Interval Duration `yaml:"interval" default:"10m" min:"1m" note:"listing snapshots reads the repository"`
	// Sets are the backup sets, by name.
	Sets []BackupSet `yaml:"sets"`
}

// BackupSet is one backup: a restic repository, what it covers, and how it is
// expected to be kept.
type BackupSet struct {
	// Name is how commands and alerts name the set.
	Name string `yaml:"name"`
	// Repository is the restic repository: a local path, or sftp:, rest:, s3:,
	// b2:, azure:, gs:, swift: and rclone: URLs as restic takes them.
	Repository string `yaml:"repository"`
	// PasswordFile holds the repository's password.
	PasswordFile string `yaml:"password_file"`
	// Host, when set, counts only snapshots taken on that host.
	Host string `yaml:"host"`
	// Paths are what the set covers: only snapshots of these paths count, and
	// they are where --in-place restores go (see RestoreTargets).
	Paths []string `yaml:"paths"`
	// Every is how often a snapshot is expected.
	Every Duration `yaml:"every" default:"24h" min:"1m"`
	// Grace is how much later than Every the newest snapshot may be before it
	// alerts. Default: a quarter of Every.
	Grace Duration `yaml:"grace" min:"0s"`
	// Offsite marks this set as an off-site copy: it alerts when its repository
	// is on the same disk as the data it covers.
	Offsite bool `yaml:"offsite"`
	// OffsiteCopy names the set that holds this set's off-site copy: it alerts
	// when that set has no fresh snapshot.
	OffsiteCopy string `yaml:"offsite_copy"`
	// Run is the command that makes a backup now (!backup), as a list: the
	// program and its arguments, run without a shell.
	Run []string `yaml:"run"`
	// RestoreTargets are the paths an --in-place restore may write to. Default:
	// Paths.
	RestoreTargets []string `yaml:"restore_targets"`
	// Containers are stopped during an --in-place restore and started after it
	// ([HOST/]NAME).
	Containers []string `yaml:"containers"`
	// Check is the scheduled integrity check.
	Check BackupCheck `yaml:"check"`
	// Drill is the scheduled restore drill.
	Drill BackupDrill `yaml:"drill"`
}

// BackupCheck schedules restic check on a set.
type BackupCheck struct {
	// Every is how often the repository is checked; 0s turns it off.
	Every Duration `yaml:"every" default:"7d" zero:"off" min:"1h"`
	// ReadData is the share of the data read back and verified: "0" (the
	// structure only), a percentage like "5%", or "all".
	ReadData string `yaml:"read_data" default:"5%"`
}

// BackupDrill schedules restore drills on a set.
type BackupDrill struct {
	// Every is how often a drill runs; 0s turns drills off.
	Every Duration `yaml:"every" default:"7d" zero:"off" min:"1h"`
	// Files is how many files, picked at random, each drill restores.
	Files int `yaml:"files" default:"20" min:"1" max:"1000"`
}

// DefaultStagingDir is the staging directory's name inside data_dir.
const DefaultStagingDir = "restores"

// backupSetName is what a set's name may be: typed in commands.
var backupSetName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// remoteRepo matches the restic repository URLs that are not local paths.
var remoteRepo = regexp.MustCompile(`^(sftp|rest|s3|b2|azure|gs|swift|rclone):`)

// IsLocalRepository reports whether a restic repository is a path on this machine.
func IsLocalRepository(repo string) bool {
	return !remoteRepo.MatchString(repo)
}

// checkBackups validates the backups section beyond its declared bounds,
// fills in the defaults that depend on other keys, and resolves its paths.
func (v *validator) checkBackups(c *Config) {
	b := &c.Backups
	if b.StagingDir == "" {
		if v.set["backups.staging_dir"] {
			v.invalid("backups.staging_dir", "must not be empty; leave it out to use data_dir/"+DefaultStagingDir)
		} else if c.DataDir != "" {
			b.StagingDir = filepath.Join(c.DataDir, DefaultStagingDir)
		}
	} else {
		b.StagingDir = v.resolve(b.StagingDir)
	}
	names := map[string]int{}
	for i := range b.Sets {
		key := fmt.Sprintf("backups.sets[%d]", i)
		s := &b.Sets[i]
		if !v.set[key+".grace"] && !v.bad[key+".grace"] {
			s.Grace = s.Every / 4
		}
		if s.RestoreTargets == nil {
			s.RestoreTargets = slices.Clone(s.Paths)
		}
		switch {
		case s.Name == "":
			v.invalid(key+".name", "required: a short name for the set, like cloud; commands and alerts use it")
		case !backupSetName.MatchString(s.Name):
			v.invalid(key+".name", fmt.Sprintf("not a set name: %q; use lower-case letters, digits, - and _ (at most 32)", s.Name))
		default:
			if j, dup := names[s.Name]; dup {
				v.invalid(key+".name", fmt.Sprintf("%q is also the name of backups.sets[%d]", s.Name, j))
			}
			names[s.Name] = i
		}
		v.checkBackupSet(key, s)
	}
	for i, s := range b.Sets {
		if s.OffsiteCopy == "" {
			continue
		}
		key := fmt.Sprintf("backups.sets[%d].offsite_copy", i)
		j, ok := names[s.OffsiteCopy]
		switch {
		case !ok:
			v.invalid(key, fmt.Sprintf("there is no set %q", s.OffsiteCopy))
		case s.OffsiteCopy == s.Name:
			v.invalid(key, "a set can't be its own off-site copy")
		case !b.Sets[j].Offsite:
			v.invalid(key, fmt.Sprintf("set %q is not marked offsite: true", s.OffsiteCopy))
		}
	}
}

func (v *validator) checkBackupSet(key string, s *BackupSet) {
	switch {
	case s.Repository == "":
		v.invalid(key+".repository", "required: the restic repository, a path like /srv/backups/cloud or a URL like sftp:user@host:/backups")
	case IsLocalRepository(s.Repository):
		// restic takes local:/path too; Steward keeps the plain path.
		s.Repository = strings.TrimPrefix(s.Repository, "local:")
		if s.Repository = v.resolve(s.Repository); !filepath.IsAbs(s.Repository) {
			v.invalid(key+".repository", fmt.Sprintf("a local repository needs an absolute path, got %q", s.Repository))
		}
	case hasPassword(s.Repository):
		v.invalid(key+".repository", "must not hold a password; restic reads credentials from its own environment variables")
	}
	v.readable(key+".password_file", &s.PasswordFile, "the file holding the repository's password")
	for i, p := range s.Paths {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			v.invalid(fmt.Sprintf("%s.paths[%d]", key, i), fmt.Sprintf("must be an absolute, clean path like /srv/cloud, got %q", p))
		}
	}
	for i, p := range s.RestoreTargets {
		switch {
		case !filepath.IsAbs(p) || filepath.Clean(p) != p:
			v.invalid(fmt.Sprintf("%s.restore_targets[%d]", key, i), fmt.Sprintf("must be an absolute, clean path like /srv/cloud, got %q", p))
		case p == "/":
			v.invalid(fmt.Sprintf("%s.restore_targets[%d]", key, i), "must not be /: name the folders a restore may write to")
		}
	}
	if len(s.Run) > 0 && !filepath.IsAbs(s.Run[0]) {
		v.invalid(key+".run", fmt.Sprintf("the program must be an absolute path (it runs without a shell), got %q", s.Run[0]))
	}
	for i, c := range s.Containers {
		if !dockerRef.MatchString(c) {
			v.invalid(fmt.Sprintf("%s.containers[%d]", key, i), fmt.Sprintf("not a container name ([HOST/]NAME): %q", c))
		}
	}
	if !validReadData(s.Check.ReadData) {
		v.invalid(key+".check.read_data", fmt.Sprintf(`must be "0", a percentage from %v%% to %v%% like %q, or "all"; got %q`,
			minReadData, maxReadData, declaredDefault[BackupCheck]("read_data"), s.Check.ReadData))
	}
}

// dockerRef is a container as config names it: [HOST/]NAME.
var dockerRef = regexp.MustCompile(`^(` + hostNamePattern + `/)?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// The percentages of the data restic check --read-data-subset can read.
const minReadData, maxReadData = 0.01, 100.0

// validReadData reports whether s is a check.read_data value.
func validReadData(s string) bool {
	if s == "0" || s == "all" {
		return true
	}
	pct, ok := strings.CutSuffix(s, "%")
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(pct, 64)
	return err == nil && f >= minReadData && f <= maxReadData
}
