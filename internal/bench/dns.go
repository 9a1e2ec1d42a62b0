package bench

import (
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// dnsServer is a small authoritative DNS server on loopback for the
// benchmarks' domain validations: real queries over UDP, TXT records set
// by the benchmark, no CAA records anywhere (so CAA permits).
type dnsServer struct {
	srv  *dns.Server
	addr string
	mu   sync.Mutex
	txt  map[string][]string
}

func startDNS() (*dnsServer, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &dnsServer{addr: pc.LocalAddr().String(), txt: map[string][]string{}}
	d.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve)}
	go func() { _ = d.srv.ActivateAndServe() }()
	return d, nil
}

func (d *dnsServer) setTXT(name, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.txt[strings.ToLower(dns.Fqdn(name))] = []string{value}
}

func (d *dnsServer) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) == 1 {
		q := r.Question[0]
		name := strings.ToLower(q.Name)
		d.mu.Lock()
		vals := d.txt[name]
		d.mu.Unlock()
		if q.Qtype == dns.TypeTXT && vals != nil {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: vals})
		}
	}
	_ = w.WriteMsg(m)
}

func (d *dnsServer) close() { _ = d.srv.Shutdown() }
