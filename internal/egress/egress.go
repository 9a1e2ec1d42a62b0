// Package egress decides which addresses vetca's domain validation may
// connect to.
//
// Website-change validation (BR §3.2.2.4.18) connects to whatever address
// the subscriber's DNS names, and keeps part of the answer as evidence.
// Without a policy a subscriber could point its name at the CA's own
// loopback, its private network or a cloud metadata service
// (169.254.169.254) and have vetca fetch from there: a server-side request
// forgery. Public is that policy: only addresses reachable on the public
// Internet are validation targets.
//
// Control applies a policy at the point of connection, as a net.Dialer
// Control hook: it sees the exact address the socket is about to connect
// to, after every name lookup, and runs before connect(2). So a refused
// address never receives a packet, and a name that resolves to a public
// address when looked up and to a private one later (DNS rebinding) cannot
// get past it: what is judged is what is connected to, on every connection
// of a check, redirects included.
//
// The policy is its own package, rather than part of dcv, because it is a
// rule about the network and not about a validation method: the primary
// (`vetca serve`) and remote perspectives (`vetca perspective serve`) apply
// the same one, and its table test needs no resolver and no server. Both
// commands turn it off with --allow-private-validation-targets (OverrideFlag),
// for tests and `vetca serve --dev`, whose validation targets are on
// loopback; production never should.
//
// Public follows the IANA special-purpose address registries (RFC 6890):
//
//   - IPv4 Special-Purpose Address Registry,
//     https://www.iana.org/assignments/iana-ipv4-special-registry/
//   - IPv6 Special-Purpose Address Registry,
//     https://www.iana.org/assignments/iana-ipv6-special-registry/
//   - Internet Protocol Version 6 Address Space,
//     https://www.iana.org/assignments/ipv6-address-space/ (only 2000::/3 is
//     allocated as global unicast; the rest is reserved, local or multicast)
//
// Every block those registries mark not globally reachable is refused.
// Two blocks are refused whole although a few addresses in them are marked
// globally reachable, because none of those addresses is a subscriber's web
// server: 192.0.0.0/24 (the PCP and TURN anycast addresses 192.0.0.9 and
// 192.0.0.10) and 2001::/23 (anycast addresses, AMT, AS112, ORCHIDv2 and
// drone remote ID). IPv6 addresses that embed an IPv4 address (IPv4-mapped,
// NAT64 well-known prefix, 6to4) are judged by the IPv4 address they
// embed, since that is where the packets end up.
package egress

import (
	"fmt"
	"net/netip"
	"syscall"
)

// OverrideFlag is the server flag, of both `vetca serve` and `vetca
// perspective serve`, that turns the policy off.
const OverrideFlag = "--allow-private-validation-targets"

// Hint tells an operator reading a refusal how to allow it.
const Hint = OverrideFlag + " allows it"

// Policy decides whether a validation check may connect to an address;
// when it may not, why names the kind of address ("loopback address").
// Public is the policy vetca uses.
type Policy func(netip.Addr) (ok bool, why string)

// block is a special-purpose address block and what its addresses are.
type block struct {
	prefix netip.Prefix
	why    string
}

// ipv4Blocks are the IPv4 blocks refused, most specific first (the first
// match names the address). IANA IPv4 Special-Purpose Address Registry
// unless noted.
func ipv4Blocks() []block {
	return []block{
		{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (\"this network\") address"},     // RFC 791, RFC 1122 §3.2.1.3
		{netip.MustParsePrefix("10.0.0.0/8"), "private address"},                           // RFC 1918
		{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT) address"},     // RFC 6598
		{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},                         // RFC 1122 §3.2.1.3
		{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},                    // RFC 3927; cloud metadata services live here
		{netip.MustParsePrefix("172.16.0.0/12"), "private address"},                        // RFC 1918
		{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment address"},        // RFC 6890 §2.1
		{netip.MustParsePrefix("192.0.2.0/24"), "documentation address"},                   // TEST-NET-1, RFC 5737
		{netip.MustParsePrefix("192.88.99.0/24"), "deprecated 6to4 relay anycast address"}, // RFC 7526
		{netip.MustParsePrefix("192.168.0.0/16"), "private address"},                       // RFC 1918
		{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking address"},                   // RFC 2544
		{netip.MustParsePrefix("198.51.100.0/24"), "documentation address"},                // TEST-NET-2, RFC 5737
		{netip.MustParsePrefix("203.0.113.0/24"), "documentation address"},                 // TEST-NET-3, RFC 5737
		{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},                        // RFC 5771
		{netip.MustParsePrefix("255.255.255.255/32"), "limited broadcast address"},         // RFC 919, RFC 8190
		{netip.MustParsePrefix("240.0.0.0/4"), "reserved address"},                         // RFC 1112 §4
	}
}

// ipv6Blocks are the IPv6 blocks refused, most specific first. IANA IPv6
// Special-Purpose Address Registry unless noted. IPv4-mapped, NAT64 and
// 6to4 addresses are not here: Public judges the IPv4 address they embed.
func ipv6Blocks() []block {
	return []block{
		{netip.MustParsePrefix("::/128"), "unspecified address"},                             // RFC 4291 §2.5.2
		{netip.MustParsePrefix("::1/128"), "loopback address"},                               // RFC 4291 §2.5.3
		{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use IPv4/IPv6 translation address"}, // RFC 8215
		{netip.MustParsePrefix("100::/64"), "discard-only address"},                          // RFC 6666
		{netip.MustParsePrefix("2001::/32"), "Teredo address"},                               // RFC 4380
		{netip.MustParsePrefix("2001:2::/48"), "benchmarking address"},                       // RFC 5180
		{netip.MustParsePrefix("2001::/23"), "IETF protocol assignment address"},             // RFC 2928
		{netip.MustParsePrefix("2001:db8::/32"), "documentation address"},                    // RFC 3849
		{netip.MustParsePrefix("3fff::/20"), "documentation address"},                        // RFC 9637
		{netip.MustParsePrefix("fc00::/7"), "unique local address"},                          // RFC 4193
		{netip.MustParsePrefix("fe80::/10"), "link-local address"},                           // RFC 4291 §2.5.6
		{netip.MustParsePrefix("fec0::/10"), "site-local address"},                           // deprecated, RFC 3879
		{netip.MustParsePrefix("ff00::/8"), "multicast address"},                             // RFC 4291 §2.7
	}
}

// globalUnicast is the only IPv6 block IANA allocates for global unicast
// (IANA IPv6 Address Space); everything else is reserved by the IETF,
// local or multicast.
const globalUnicast = "2000::/3"

// Embedding prefixes: the IPv4 address sits in the last 32 bits (NAT64,
// RFC 6052 §2.1, §3.1: the well-known prefix must not carry a non-global
// IPv4 address) or in bits 16 to 47 (6to4, RFC 3056 §2).
const (
	nat64Prefix = "64:ff9b::/96"
	sixToFour   = "2002::/16"
)

// Public reports whether a may be connected to as a validation target,
// and, when it may not, why: the kind of address, such as "loopback
// address" or "private address". It is pure: it looks at the address
// only, never at the network.
//
// An IPv4-mapped (::ffff:0:0/96, RFC 4291 §2.5.5.2), NAT64 (64:ff9b::/96,
// RFC 6052) or 6to4 (2002::/16, RFC 3056) address is judged by the IPv4
// address it embeds. A zone is ignored. The zero Addr is refused.
func Public(a netip.Addr) (ok bool, why string) {
	if !a.IsValid() {
		return false, "invalid address"
	}
	a = a.WithZone("")
	if a.Is4In6() {
		return embedded(a.Unmap(), "an IPv4-mapped address")
	}
	if a.Is4() {
		for _, b := range ipv4Blocks() {
			if b.prefix.Contains(a) {
				return false, b.why
			}
		}
		return true, ""
	}
	b16 := a.As16()
	if netip.MustParsePrefix(nat64Prefix).Contains(a) {
		return embedded(netip.AddrFrom4([4]byte(b16[12:16])), "a NAT64 address ("+nat64Prefix+")")
	}
	if netip.MustParsePrefix(sixToFour).Contains(a) {
		return embedded(netip.AddrFrom4([4]byte(b16[2:6])), "a 6to4 address ("+sixToFour+")")
	}
	for _, b := range ipv6Blocks() {
		if b.prefix.Contains(a) {
			return false, b.why
		}
	}
	if !netip.MustParsePrefix(globalUnicast).Contains(a) {
		return false, "address outside the IPv6 global unicast space " + globalUnicast
	}
	return true, ""
}

// embedded judges the IPv4 address v4 found inside an IPv6 address of the
// kind named by in.
func embedded(v4 netip.Addr, in string) (bool, string) {
	if ok, why := Public(v4); !ok {
		return false, fmt.Sprintf("%s %s embedded in %s", why, v4, in)
	}
	return true, ""
}

// RefusedError is the error of a connection a policy refused. Nothing was
// sent to Addr.
type RefusedError struct {
	Addr netip.Addr // the address that would have been connected to
	Why  string     // the policy's reason
}

// Refusal is the error text without Hint, for joining several refusals
// under one hint.
func (e *RefusedError) Refusal() string {
	return fmt.Sprintf("refused to connect to %s: %s is not a public validation target", e.Addr, e.Why)
}

// Error names the address, why it was refused, and how to allow it.
func (e *RefusedError) Error() string { return e.Refusal() + "; " + Hint }

// Control returns a net.Dialer Control function that lets a connection
// proceed only to an address policy accepts, and otherwise fails the dial
// with a *RefusedError. net.Dialer calls it after creating the socket and
// before connecting, with the numeric address being connected to, so the
// policy judges the address actually connected to and a refused address
// receives no packet. An address that does not parse is refused too.
func Control(policy Policy) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("egress: refusing to connect to %q over %s: not a numeric address: %w", address, network, err)
		}
		if ok, why := policy(ap.Addr()); !ok {
			return &RefusedError{Addr: ap.Addr(), Why: why}
		}
		return nil
	}
}
