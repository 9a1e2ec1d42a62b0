package egress

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Every special-purpose range of the IANA IPv4 and IPv6 special-purpose
// address registries that a validation must not reach, its edges, the
// addresses just outside them, and public addresses. Nothing here touches
// the network: Public is judged on the address alone.
func TestPublic(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
		why  string // substring of the reason when refused
	}{
		// Public IPv4 and IPv6.
		{"8.8.8.8", true, ""},
		{"1.1.1.1", true, ""},
		{"93.184.216.34", true, ""},
		{"2606:4700::1111", true, ""},
		{"2a00:1450:4001:82b::200e", true, ""},
		{"192.31.196.1", true, ""},    // AS112-v4: globally reachable
		{"192.175.48.1", true, ""},    // direct delegation AS112: globally reachable
		{"2620:4f:8000::1", true, ""}, // direct delegation AS112: globally reachable

		// Edges: the addresses just outside a refused block are public.
		{"9.255.255.255", true, ""},
		{"11.0.0.0", true, ""},
		{"100.63.255.255", true, ""},
		{"100.128.0.0", true, ""},
		{"126.255.255.255", true, ""},
		{"128.0.0.0", true, ""},
		{"169.253.255.255", true, ""},
		{"169.255.0.0", true, ""},
		{"172.15.255.255", true, ""},
		{"172.32.0.0", true, ""},
		{"192.0.1.255", true, ""},
		{"192.0.3.0", true, ""},
		{"192.167.255.255", true, ""},
		{"192.169.0.0", true, ""},
		{"198.17.255.255", true, ""},
		{"198.20.0.0", true, ""},
		{"223.255.255.255", true, ""},
		{"2001:200::1", true, ""}, // just after 2001::/23
		{"2001:db7:ffff::1", true, ""},
		{"2001:db9::1", true, ""},
		{"2003::1", true, ""}, // just after 2002::/16
		{"3ffe:ffff::1", true, ""},
		{"3fff:1000::1", true, ""}, // just after 3fff::/20

		// Loopback: 127/8 and ::1.
		{"127.0.0.1", false, "loopback"},
		{"127.1.2.3", false, "loopback"},
		{"127.255.255.255", false, "loopback"},
		{"::1", false, "loopback"},
		// Unspecified / "this network": 0.0.0.0/8 and ::.
		{"0.0.0.0", false, "unspecified"},
		{"0.1.2.3", false, "unspecified"},
		{"::", false, "unspecified"},
		// RFC 1918.
		{"10.0.0.0", false, "private"},
		{"10.0.0.5", false, "private"},
		{"10.255.255.255", false, "private"},
		{"172.16.0.0", false, "private"},
		{"172.31.255.255", false, "private"},
		{"192.168.0.1", false, "private"},
		{"192.168.255.255", false, "private"},
		// CGNAT 100.64/10.
		{"100.64.0.0", false, "carrier-grade NAT"},
		{"100.127.255.255", false, "carrier-grade NAT"},
		// Link-local 169.254/16 (cloud metadata) and fe80::/10.
		{"169.254.169.254", false, "link-local"},
		{"169.254.0.0", false, "link-local"},
		{"fe80::1", false, "link-local"},
		{"fe80::1%eth0", false, "link-local"},
		{"febf:ffff::1", false, "link-local"},
		// IPv6 unique local fc00::/7.
		{"fc00::1", false, "unique local"},
		{"fd12:3456:789a::1", false, "unique local"},
		// Multicast 224/4 and ff00::/8.
		{"224.0.0.1", false, "multicast"},
		{"239.255.255.250", false, "multicast"},
		{"ff02::1", false, "multicast"},
		{"ff0e::1", false, "multicast"},
		// Broadcast and reserved 240/4.
		{"255.255.255.255", false, "broadcast"},
		{"240.0.0.1", false, "reserved"},
		{"255.255.255.254", false, "reserved"},
		// Documentation.
		{"192.0.2.1", false, "documentation"},
		{"198.51.100.7", false, "documentation"},
		{"203.0.113.255", false, "documentation"},
		{"2001:db8::1", false, "documentation"},
		{"2001:db8:ffff:ffff::1", false, "documentation"},
		{"3fff::1", false, "documentation"},
		// Benchmarking 198.18/15 and 2001:2::/48.
		{"198.18.0.1", false, "benchmarking"},
		{"198.19.255.255", false, "benchmarking"},
		{"2001:2::1", false, "benchmarking"},
		// IETF protocol assignments 192.0.0/24 and 2001::/23.
		{"192.0.0.1", false, "IETF protocol assignment"},
		{"192.0.0.9", false, "IETF protocol assignment"},
		{"192.0.0.255", false, "IETF protocol assignment"},
		{"2001:1::1", false, "IETF protocol assignment"},
		{"2001:1ff::1", false, "IETF protocol assignment"},
		{"2001::1", false, "Teredo"},
		// Deprecated 6to4 relay anycast.
		{"192.88.99.1", false, "6to4 relay"},
		// Site-local fec0::/10, discard-only 100::/64, local-use NAT64.
		{"fec0::1", false, "site-local"},
		{"feff::1", false, "site-local"},
		{"100::1", false, "discard-only"},
		{"64:ff9b:1::a00:5", false, "local-use IPv4/IPv6 translation"},
		// IPv6 outside 2000::/3: reserved, including the deprecated
		// IPv4-compatible form ::a.b.c.d.
		{"::8.8.8.8", false, "outside the IPv6 global unicast space"},
		{"::127.0.0.1", false, "outside the IPv6 global unicast space"},
		{"100:0:0:1::1", false, "outside the IPv6 global unicast space"},
		{"5f00::1", false, "outside the IPv6 global unicast space"},
		{"4000::1", false, "outside the IPv6 global unicast space"},
		{"1fff:ffff::1", false, "outside the IPv6 global unicast space"},

		// IPv4-mapped ::ffff:0:0/96: the embedded IPv4 address is judged.
		{"::ffff:8.8.8.8", true, ""},
		{"::ffff:127.0.0.1", false, "loopback address 127.0.0.1 embedded in an IPv4-mapped address"},
		{"::ffff:10.0.0.5", false, "private address 10.0.0.5 embedded in an IPv4-mapped"},
		{"::ffff:169.254.169.254", false, "link-local address 169.254.169.254 embedded"},
		{"::ffff:0.0.0.0", false, "unspecified"},
		// NAT64 64:ff9b::/96.
		{"64:ff9b::808:808", true, ""},
		{"64:ff9b::8.8.8.8", true, ""},
		{"64:ff9b::7f00:1", false, "loopback address 127.0.0.1 embedded in a NAT64 address"},
		{"64:ff9b::10.0.0.5", false, "private address 10.0.0.5 embedded in a NAT64"},
		{"64:ff9b::169.254.169.254", false, "link-local"},
		{"64:ff9b::c000:201", false, "documentation address 192.0.2.1 embedded in a NAT64"},
		// 6to4 2002::/16: the IPv4 address is in bits 16 to 47.
		{"2002:808:808::1", true, ""},
		{"2002:7f00:1::1", false, "loopback address 127.0.0.1 embedded in a 6to4 address"},
		{"2002:a00:5::1", false, "private address 10.0.0.5 embedded in a 6to4"},
		{"2002:a9fe:a9fe::1", false, "link-local address 169.254.169.254 embedded in a 6to4"},
	}
	for _, tc := range tests {
		a, err := netip.ParseAddr(tc.addr)
		if err != nil {
			t.Fatalf("%s: %v", tc.addr, err)
		}
		ok, why := Public(a)
		if ok != tc.ok {
			t.Errorf("Public(%s) = %v (%q); want %v", tc.addr, ok, why, tc.ok)
			continue
		}
		if ok && why != "" {
			t.Errorf("Public(%s) allowed with a reason %q", tc.addr, why)
		}
		if !ok && !strings.Contains(why, tc.why) {
			t.Errorf("Public(%s) reason %q; want it to say %q", tc.addr, why, tc.why)
		}
	}
	if ok, why := Public(netip.Addr{}); ok || why == "" {
		t.Errorf("the zero Addr: %v %q", ok, why)
	}
}

// The refusal names the address, why, and the flag that allows it.
func TestRefusedError(t *testing.T) {
	e := &RefusedError{Addr: netip.MustParseAddr("127.0.0.1"), Why: "loopback address"}
	want := "refused to connect to 127.0.0.1: loopback address is not a public validation target; --allow-private-validation-targets allows it"
	if e.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", e.Error(), want)
	}
	if e.Refusal()+"; "+Hint != want {
		t.Errorf("Refusal() = %q", e.Refusal())
	}
}

// Control judges the numeric address net.Dialer passes it; called
// directly here, with no socket.
func TestControl(t *testing.T) {
	ctl := Control(Public)
	for _, tc := range []struct {
		network, address string
		refused          string // address named in the refusal, "" when allowed
	}{
		{"tcp4", "8.8.8.8:80", ""},
		{"tcp6", "[2606:4700::1111]:443", ""},
		{"tcp4", "127.0.0.1:80", "127.0.0.1"},
		{"tcp4", "169.254.169.254:80", "169.254.169.254"},
		{"tcp6", "[::1]:8080", "::1"},
		{"tcp6", "[fe80::1%eth0]:80", "fe80::1%eth0"},
		{"tcp6", "[::ffff:10.0.0.5]:80", "::ffff:10.0.0.5"},
	} {
		err := ctl(tc.network, tc.address, nil)
		var re *RefusedError
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.address, err)
		case tc.refused != "" && (!errors.As(err, &re) || re.Addr.String() != tc.refused):
			t.Errorf("%s: %v; want a refusal of %s", tc.address, err, tc.refused)
		}
	}
	// An address that is not numeric is refused, not resolved.
	if err := ctl("tcp", "localhost:80", nil); err == nil {
		t.Error("a name was let through")
	}
	// The policy is injected: one that refuses everything refuses 8.8.8.8.
	deny := Control(func(netip.Addr) (bool, string) { return false, "test address" })
	if err := deny("tcp4", "8.8.8.8:80", nil); err == nil || !strings.Contains(err.Error(), "8.8.8.8: test address") {
		t.Errorf("injected policy: %v", err)
	}
}

// Installed in a real net.Dialer, Control stops a connection to a loopback
// listener before it is made: the listener accepts nothing.
func TestControlInDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The listener reports the peer address of each connection, in the
	// order it accepts them (the order they were made).
	accepted := make(chan string, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c.RemoteAddr().String()
			c.Close()
		}
	}()
	d := &net.Dialer{Timeout: time.Second, Control: Control(Public)}
	conn, err := d.Dial("tcp", ln.Addr().String())
	var re *RefusedError
	if err == nil {
		conn.Close()
		t.Fatal("connected to loopback")
	}
	if !errors.As(err, &re) || re.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("error %v; want a *RefusedError for 127.0.0.1", err)
	}
	// With a policy that allows loopback the same dial connects, so the
	// listener works and the refusal above was the policy's.
	allow := &net.Dialer{Timeout: 10 * time.Second, Control: Control(func(netip.Addr) (bool, string) { return true, "" })}
	conn, err = allow.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	allowed := conn.LocalAddr().String()
	conn.Close()
	// Connections are accepted in the order they were made: had the
	// refused dial reached the listener, it would come before this one.
	select {
	case got := <-accepted:
		if got != allowed {
			t.Fatalf("the listener first accepted %s, before the allowed connection from %s: the refused dial reached it", got, allowed)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the allowed connection was not accepted")
	}
}
