package replica

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestLiveProcessIsNeverGone(t *testing.T) {
	id := New()
	if id.Gone() {
		t.Fatalf("this process's own id %s reads as gone", id)
	}
	if n := strings.Count(string(id), "/"); n != 5 {
		t.Fatalf("id %q has %d parts", id, n+1)
	}
}

func TestExitedProcessIsGone(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc (Linux)")
	}
	// A child process: take its id while it runs, then let it exit.
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	p, _ := New().parse()
	child := ID(strings.Join([]string{p.host, p.boot, p.pidns, strconv.Itoa(pid), startTime(pid), "00000000"}, "/"))
	if child.Gone() {
		t.Fatal("a running child reads as gone")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if !child.Gone() {
		t.Fatal("an exited child does not read as gone")
	}
}

func TestForeignOrMalformedIDsAreNeverGone(t *testing.T) {
	p, _ := New().parse()
	for _, id := range []ID{
		"",
		"garbage",
		ID(strings.Join([]string{p.host, "another-boot", p.pidns, "999999", "1", "x"}, "/")),
		ID(strings.Join([]string{p.host, p.boot, "pid_other", "999999", "1", "x"}, "/")),
		ID(strings.Join([]string{"h", p.boot, p.pidns, "notanumber", "1", "x"}, "/")),
	} {
		if id.Gone() {
			t.Errorf("%q reads as gone; only a process known to have exited may", id)
		}
	}
}
