// Package replica names a vetca process among the replicas that share one
// database, and tells whether another replica is certainly gone.
//
// A replica's id records where it runs: host name, kernel boot, PID
// namespace, process id and process start time, plus random bytes. Another
// replica on the same kernel boot and PID namespace can then tell for
// certain that the process has exited (no such process, or a different
// process under a reused id). Anywhere else only the replica's database
// lease tells, after it stops being renewed. Nothing here ever concludes
// that a live process is dead: that would let recovery abandon an issuance
// another replica is signing.
package replica

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ID identifies one replica process.
type ID string

// New returns the id of this process.
func New() ID {
	host, _ := os.Hostname()
	host = strings.NewReplacer("/", "_", " ", "_").Replace(host)
	var b [4]byte
	_, _ = rand.Read(b[:])
	pid := os.Getpid()
	return ID(fmt.Sprintf("%s/%s/%s/%d/%s/%s", host, bootID(), pidNamespace(), pid, startTime(pid), hex.EncodeToString(b[:])))
}

func (id ID) String() string { return string(id) }

type parts struct {
	host, boot, pidns, start string
	pid                      int
}

func (id ID) parse() (parts, bool) {
	f := strings.Split(string(id), "/")
	if len(f) != 6 {
		return parts{}, false
	}
	pid, err := strconv.Atoi(f[3])
	if err != nil {
		return parts{}, false
	}
	return parts{host: f[0], boot: f[1], pidns: f[2], pid: pid, start: f[4]}, true
}

// Gone reports whether the replica's process has certainly exited: it ran
// on this kernel boot and in this PID namespace, and its process id now
// names no process, or a process that started at another time. It returns
// false whenever it cannot tell.
func (id ID) Gone() bool {
	p, ok := id.parse()
	if !ok || p.boot == "" || p.pidns == "" || p.start == "" {
		return false
	}
	if p.boot != bootID() || p.pidns != pidNamespace() {
		return false
	}
	st := startTime(p.pid)
	if st == "" {
		_, err := os.Stat("/proc/" + strconv.Itoa(p.pid))
		return os.IsNotExist(err)
	}
	return st != p.start
}

// bootID identifies the running kernel boot (Linux), or "".
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// pidNamespace identifies this process's PID namespace (Linux), or "".
func pidNamespace() string {
	l, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.NewReplacer("/", "_", ":", "_", "[", "", "]", "").Replace(l)
}

// startTime is field 22 of /proc/PID/stat: the process start time in clock
// ticks since boot, or "" when the process does not exist (or not Linux).
func startTime(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); start time is field 22.
	if len(f) < 20 {
		return ""
	}
	return f[19]
}
