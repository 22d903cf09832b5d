//go:build linux

package backup

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childParentEnv makes the test binary stand in for Steward: it starts a child as
// Steward starts restic and waits to be killed.
const childParentEnv = "STEWARD_TEST_CHILD_PARENT"

// A program Steward runs (restic, a backup command) dies with it when Steward is
// killed with SIGKILL: an orphaned restic restore went on writing into the live
// folder after the next start had put the restore right (the chaos test's finding).
func TestChildDiesWithSteward(t *testing.T) {
	if os.Getenv(childParentEnv) != "" {
		child := exec.Command("sleep", "300")
		dieWithSteward(child)
		if err := child.Start(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(child.Process.Pid)
		select {} // until killed
	}
	parent := exec.Command(os.Args[0], "-test.run=^TestChildDiesWithSteward$")
	parent.Env = append(os.Environ(), childParentEnv+"=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err = parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = parent.Process.Kill()
		t.Fatalf("the stand-in for Steward said %q: %v", line, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		_ = parent.Process.Kill()
		t.Fatalf("the stand-in for Steward said %q", line)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if !alive(pid) {
		t.Fatal("the child did not start")
	}
	if err = parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	// The kernel signals the child as the parent exits; it is gone (or a zombie
	// waiting for init to reap it) within moments. Polled, with a generous bound.
	for deadline := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the child %d still runs after its parent was killed", pid)
		}
	}
}

// alive reports whether pid is a process that has not ended.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
