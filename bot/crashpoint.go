package bot

import "os"

// crashPointEnv names the step at which a test wants Steward to die on the spot.
const crashPointEnv = "STEWARD_CRASH_AT"

// crashAt is read once: the end-to-end tests set it to prove that a crash between two
// steps neither loses nor repeats anything. Unset, as in production, it costs one string
// comparison per step.
var crashAt = os.Getenv(crashPointEnv)

// CrashPoint ends the process at once, like a power cut (no deferred cleanup, no
// graceful shutdown), when the tests asked for a crash at name.
func CrashPoint(name string) {
	if crashAt == name {
		os.Stderr.WriteString("steward: crashing at " + name + " (" + crashPointEnv + ")\n")
		os.Exit(97)
	}
}
