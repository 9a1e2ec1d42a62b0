// Package dnstest is an in-process DNS server for tests. It listens on
// 127.0.0.1 on one random port for both UDP and TCP and answers from a
// programmable, thread-safe zone, the way a recursive resolver would answer
// a stub client:
//
//   - a name with records of the asked type gets them (NOERROR);
//   - a name that exists (it has records, or names exist below it: an empty
//     non-terminal) but has none of the asked type gets NOERROR with an empty
//     answer (NODATA, RFC 2308 §2.2);
//   - a name that does not exist gets NXDOMAIN (RFC 2308 §2.1);
//   - a name with a CNAME gets the CNAME and, when the target is in the zone,
//     the target's records of the asked type, following chains (RFC 1034
//     §4.3.2). With SetChaseCNAME(false) only the first CNAME is returned,
//     so that clients must follow the chain themselves;
//   - SetRcode forces an rcode for a name (SERVFAIL is how a validating
//     resolver reports a DNSSEC-bogus answer, RFC 4035 §5.5);
//   - SetTruncate(true) answers every UDP query with the TC bit and no
//     records, so clients must retry over TCP (RFC 1035 §4.2.1, RFC 7766);
//     answers bigger than the client's UDP size are truncated anyway;
//   - SetDrop makes the server silently ignore queries for a name, which
//     clients see as a timeout;
//   - SetAuthenticatedData sets the AD bit on answers, as a validating
//     resolver does for secure data (RFC 4035 §3.2.3).
//
// Every query is logged (name, type, transport, DO bit) for tests to assert.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Transports as recorded in the query log.
const (
	UDP = "udp"
	TCP = "tcp"
)

// Query is one entry of the query log.
type Query struct {
	Name      string // lower-case FQDN with trailing dot, as asked
	Type      string // e.g. "TXT", "CAA"
	Transport string // UDP or TCP
	DO        bool   // the EDNS0 DNSSEC OK bit was set
	EDNS      bool   // the query carried an OPT record
}

// Server is a running test DNS server. Its zero value is not usable; use New.
type Server struct {
	addr string
	udp  *dns.Server
	tcp  *dns.Server

	mu         sync.Mutex
	records    map[string][]dns.RR // owner (lower FQDN) -> RRs
	rcodes     map[string]int
	drop       map[string]bool
	truncate   bool
	chaseCNAME bool
	ad         bool
	ttl        uint32
	log        []Query

	holdMu sync.Mutex
	holds  map[string]*hold // fqdn + "/" + type -> hold
	closed chan struct{}    // closed when the test ends: held queries go on
}

// hold keeps queries for one name and type unanswered until released.
type hold struct {
	arrived  chan struct{}
	released chan struct{}
	once     sync.Once
}

// New starts a server on 127.0.0.1 (one random port, UDP and TCP) and stops
// it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		records:    map[string][]dns.RR{},
		rcodes:     map[string]int{},
		drop:       map[string]bool{},
		chaseCNAME: true,
		ttl:        DefaultTTL,
		closed:     make(chan struct{}),
	}
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for range 20 {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: listen udp: %v", err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatalf("dnstest: could not bind UDP and TCP on one port: %v", err)
	}
	s.addr = pc.LocalAddr().String()

	udpStarted := make(chan struct{})
	tcpStarted := make(chan struct{})
	s.udp = &dns.Server{PacketConn: pc, Handler: s.handler(UDP), NotifyStartedFunc: func() { close(udpStarted) }}
	s.tcp = &dns.Server{Listener: ln, Handler: s.handler(TCP), NotifyStartedFunc: func() { close(tcpStarted) }}
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	for _, ch := range []chan struct{}{udpStarted, tcpStarted} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("dnstest: server did not start")
		}
	}
	t.Cleanup(func() {
		close(s.closed)
		_ = s.udp.Shutdown()
		_ = s.tcp.Shutdown()
	})
	return s
}

// Addr returns the server's "127.0.0.1:PORT", the same port for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

func fqdn(name string) string { return dns.Fqdn(strings.ToLower(name)) }

// DefaultTTL is the TTL of added records until SetTTL changes it.
const DefaultTTL = 300

func (s *Server) hdr(name string, t uint16) dns.RR_Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return dns.RR_Header{Name: fqdn(name), Rrtype: t, Class: dns.ClassINET, Ttl: s.ttl}
}

// SetTTL sets the TTL (seconds) of records added from now on.
func (s *Server) SetTTL(ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl = ttl
}

func (s *Server) add(rr dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := rr.Header().Name
	s.records[n] = append(s.records[n], rr)
}

// AddTXT adds one TXT record at name holding the given character-strings
// (one or more; a client joins them).
func (s *Server) AddTXT(name string, strs ...string) {
	s.add(&dns.TXT{Hdr: s.hdr(name, dns.TypeTXT), Txt: strs})
}

// AddCAA adds a CAA record (RFC 8659 §4.1) at name.
func (s *Server) AddCAA(name string, flag uint8, tag, value string) {
	s.add(&dns.CAA{Hdr: s.hdr(name, dns.TypeCAA), Flag: flag, Tag: tag, Value: value})
}

// AddCNAME adds a CNAME from name to target.
func (s *Server) AddCNAME(name, target string) {
	s.add(&dns.CNAME{Hdr: s.hdr(name, dns.TypeCNAME), Target: fqdn(target)})
}

// AddA adds an A record; ip must be an IPv4 address.
func (s *Server) AddA(name, ip string) {
	s.add(&dns.A{Hdr: s.hdr(name, dns.TypeA), A: net.ParseIP(ip).To4()})
}

// AddAAAA adds an AAAA record; ip must be an IPv6 address.
func (s *Server) AddAAAA(name, ip string) {
	s.add(&dns.AAAA{Hdr: s.hdr(name, dns.TypeAAAA), AAAA: net.ParseIP(ip)})
}

// Remove deletes every record of type qtype (e.g. dns.TypeTXT) at name.
func (s *Server) Remove(name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := fqdn(name)
	kept := s.records[n][:0]
	for _, rr := range s.records[n] {
		if rr.Header().Rrtype != qtype {
			kept = append(kept, rr)
		}
	}
	if len(kept) == 0 {
		delete(s.records, n)
	} else {
		s.records[n] = kept
	}
}

// RemoveName deletes every record at name.
func (s *Server) RemoveName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, fqdn(name))
}

// SetRcode makes every query for name (any type) answer with rcode, for
// example dns.RcodeServerFailure. Use ClearRcode to undo.
func (s *Server) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcodes[fqdn(name)] = rcode
}

// ClearRcode undoes SetRcode.
func (s *Server) ClearRcode(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rcodes, fqdn(name))
}

// SetDrop makes the server ignore (never answer) queries for name.
func (s *Server) SetDrop(name string, drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if drop {
		s.drop[fqdn(name)] = true
	} else {
		delete(s.drop, fqdn(name))
	}
}

// SetTruncate makes every UDP answer truncated (TC bit, no records).
func (s *Server) SetTruncate(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate = on
}

// SetChaseCNAME chooses whether answers include the records of a CNAME's
// target (true, the default) or only the first CNAME (false).
func (s *Server) SetChaseCNAME(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chaseCNAME = on
}

// SetAuthenticatedData sets the AD bit on every answer.
func (s *Server) SetAuthenticatedData(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ad = on
}

// Queries returns a copy of the query log, oldest first.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.log...)
}

// QueriesFor returns the logged queries for name (any case, with or
// without the trailing dot).
func (s *Server) QueriesFor(name string) []Query {
	n := fqdn(name)
	var out []Query
	for _, q := range s.Queries() {
		if q.Name == n {
			out = append(out, q)
		}
	}
	return out
}

// ResetLog empties the query log.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// Hold makes queries for name and qtype wait unanswered until release is
// called (or the test ends); arrived is closed when the first such query
// comes in. Tests use it to hold a server step (for example finalize
// waiting on CAA) at a known point. Retries of the query are held too.
func (s *Server) Hold(name string, qtype uint16) (arrived <-chan struct{}, release func()) {
	h := &hold{arrived: make(chan struct{}), released: make(chan struct{})}
	key := fqdn(name) + "/" + dns.TypeToString[qtype]
	s.holdMu.Lock()
	if s.holds == nil {
		s.holds = map[string]*hold{}
	}
	s.holds[key] = h
	s.holdMu.Unlock()
	return h.arrived, func() {
		s.holdMu.Lock()
		delete(s.holds, key)
		s.holdMu.Unlock()
		select {
		case <-h.released:
		default:
			close(h.released)
		}
	}
}

func (s *Server) wait(req *dns.Msg) {
	if len(req.Question) != 1 {
		return
	}
	q := req.Question[0]
	s.holdMu.Lock()
	h := s.holds[strings.ToLower(q.Name)+"/"+dns.TypeToString[q.Qtype]]
	s.holdMu.Unlock()
	if h == nil {
		return
	}
	h.once.Do(func() { close(h.arrived) })
	select {
	case <-h.released:
	case <-s.closed:
	}
}

func (s *Server) handler(transport string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		s.wait(req)
		resp, send := s.answer(req, transport)
		if !send {
			return
		}
		_ = w.WriteMsg(resp)
	}
}

// answer builds the response; it holds the lock for the whole lookup so a
// concurrent zone change is seen either entirely or not at all.
func (s *Server) answer(req *dns.Msg, transport string) (*dns.Msg, bool) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return resp, true
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	opt := req.IsEdns0()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, Query{
		Name: name, Type: dns.TypeToString[q.Qtype], Transport: transport,
		EDNS: opt != nil, DO: opt != nil && opt.Do(),
	})
	if s.drop[name] {
		return nil, false
	}
	udpSize := dns.MinMsgSize
	if opt != nil {
		resp.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), opt.Do())
		udpSize = int(max(opt.UDPSize(), dns.MinMsgSize))
	}
	if rc, ok := s.rcodes[name]; ok {
		resp.Rcode = rc
		return resp, true
	}
	if transport == UDP && s.truncate {
		resp.Truncated = true
		return resp, true
	}

	cur := name
	for hop := 0; ; hop++ {
		rrs := s.records[cur]
		var matched []dns.RR
		var cname *dns.CNAME
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
				matched = append(matched, dns.Copy(rr))
			}
			if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if len(matched) > 0 {
			resp.Answer = append(resp.Answer, matched...)
			break
		}
		if cname != nil && q.Qtype != dns.TypeCNAME {
			resp.Answer = append(resp.Answer, dns.Copy(cname))
			if !s.chaseCNAME || hop >= 16 {
				break
			}
			if rc, ok := s.rcodes[cname.Target]; ok {
				resp.Rcode = rc
				break
			}
			if !s.exists(cname.Target) {
				// Target outside this zone: return the CNAME alone so the
				// client resolves the target itself.
				break
			}
			cur = cname.Target
			continue
		}
		if !s.exists(cur) {
			resp.Rcode = dns.RcodeNameError
		}
		break
	}
	if s.ad && resp.Rcode != dns.RcodeServerFailure {
		resp.AuthenticatedData = true
	}
	if transport == UDP {
		resp.Truncate(udpSize)
	}
	return resp, true
}

// exists reports whether name owns records or is an empty non-terminal.
// The caller holds s.mu.
func (s *Server) exists(name string) bool {
	if len(s.records[name]) > 0 {
		return true
	}
	suffix := "." + name
	for owner := range s.records {
		if strings.HasSuffix(owner, suffix) {
			return true
		}
	}
	return false
}
