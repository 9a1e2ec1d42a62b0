package main

import (
	"io"
	"strings"
	"testing"
)

// Runtime profiles reveal memory contents: --pprof-listen refuses any
// address but loopback, before it listens.
func TestPprofListensOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "10.0.0.1:6060", "192.168.1.2:6060", "[::]:6060", "localhost:6060", "169.254.169.254:80", "nonsense"} {
		if stop, err := startPprof(addr, io.Discard); err == nil {
			stop()
			t.Errorf("%s: accepted", addr)
		} else if !strings.Contains(err.Error(), "--pprof-listen") {
			t.Errorf("%s: error does not name the flag: %v", addr, err)
		}
	}
	stop, err := startPprof("127.0.0.1:0", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stop()
}
