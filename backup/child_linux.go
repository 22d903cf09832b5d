//go:build linux

package backup

import (
	"os/exec"
	"syscall"
)

// dieWithSteward has the kernel kill cmd's process when Steward ends, however it
// ends. Without it a restic restore outlives a Steward killed mid-way and goes on
// writing into the restore's scratch folder after the next start's recovery has
// cleared it, and a backup command goes on after its run was reported interrupted.
// (The signal follows the thread that started the child; Go ends a thread only when
// a goroutine locked to it exits, which nothing here does.)
func dieWithSteward(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
