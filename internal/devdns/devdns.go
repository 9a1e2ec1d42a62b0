// Package devdns is the DNS responder of `vetca serve --dev` when no
// --dns-resolver is given: a real DNS server on loopback that answers a
// challenge TXT query (_vetca-challenge.DOMAIN) with the random value of
// that name's pending validation in the database, and everything else with
// an empty answer (so CAA permits). It lets a newcomer validate a domain
// and issue a certificate on a laptop with no DNS of their own. It is never
// used outside --dev.
package devdns

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Lookup returns the TXT values to answer for a challenge record name
// (domain.PendingChallengeValues, over the database).
type Lookup func(ctx context.Context, recordName string) ([]string, error)

// Server is a running dev DNS responder.
type Server struct {
	udp, tcp *dns.Server
	addr     string
	lookup   Lookup
}

// Start listens on 127.0.0.1 (UDP and TCP, one port).
func Start(lookup Lookup) (*Server, error) {
	// UDP and TCP on one port: the UDP port is free, the same TCP port may
	// not be, so try a few.
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for try := 0; try < 20; try++ {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return nil, err
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		return nil, err
	}
	s := &Server{addr: pc.LocalAddr().String(), lookup: lookup}
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	return s, nil
}

// Addr is the HOST:PORT to use as --dns-resolver.
func (s *Server) Addr() string { return s.addr }

// Close stops the server.
func (s *Server) Close() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
}

func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeTXT {
		q := r.Question[0]
		name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		vals, err := s.lookup(ctx, name)
		if err == nil {
			for _, v := range vals {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 0}, Txt: []string{v}})
			}
		}
	}
	_ = w.WriteMsg(m)
}
