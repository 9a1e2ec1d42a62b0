package revocation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation/ocspresp"
)

var memT0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// memSigner signs throwaway responses for the memory's unit tests.
func memSigner(t *testing.T) *ocspresp.Signer {
	s, _ := memSignerCA(t)
	return s
}

func memSignerCA(t *testing.T) (*ocspresp.Signer, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "memory test CA"}, NotBefore: memT0.AddDate(-1, 0, 0),
		NotAfter: memT0.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ocspresp.NewSigner(ocspresp.SignerConfig{Issuer: cert, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return s, cert
}

func memResponse(t *testing.T, s *ocspresp.Signer, serial []byte, this time.Time) []byte {
	t.Helper()
	der, err := s.Sign(ocspresp.Response{Serial: new(big.Int).SetBytes(serial), Status: ocspresp.Good, ThisUpdate: this,
		NextUpdate: this.Add(96 * time.Hour), ProducedAt: this})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func polledMemory(entries int) *ocspMemory {
	m := newOCSPMemory(entries)
	m.polled.Store(true)
	return m
}

// The memory holds at most its cap, evicting responses not answered since
// they were last passed over before those that were.
func TestMemoryIsBounded(t *testing.T) {
	s := memSigner(t)
	m := polledMemory(64) // 4 per shard
	hot := []byte{0x10, 0xaa, 0x00}
	m.put(m.ticket(), hot, "iss", crypto.SHA1, memResponse(t, s, hot, memT0), memT0, false)
	for i := 0; i < 1000; i++ {
		sn := []byte{0x10, byte(i >> 8), byte(i), 0x00} // same shard as hot
		if e := m.get(hot, "iss", crypto.SHA1); e != nil {
			e.used.Store(true) // hot is answered between every two fills
		}
		m.put(m.ticket(), sn, "iss", crypto.SHA1, memResponse(t, s, sn, memT0), memT0, false)
		if n := m.len(); n > 64 {
			t.Fatalf("%d responses held, cap 64", n)
		}
	}
	if m.get(hot, "iss", crypto.SHA1) == nil {
		t.Error("the response answered all along was evicted")
	}
	// Every response answered: still bounded.
	for i := 0; i < 200; i++ {
		sn := []byte{0x20, byte(i), 0x00}
		for i := range m.shards {
			for _, s := range m.shards[i].m {
				for _, e := range s.entries {
					e.used.Store(true)
				}
			}
		}
		m.put(m.ticket(), sn, "iss", crypto.SHA1, memResponse(t, s, sn, memT0), memT0, false)
		if n := m.len(); n > 64 {
			t.Fatalf("%d responses held, cap 64, all of them answered", n)
		}
	}
}

// A fill that read the database before a drop is refused; a fill after it
// lands; a fill before the first poll never lands; a refresher's fill only
// replaces.
func TestMemoryTickets(t *testing.T) {
	s := memSigner(t)
	sn := []byte{0x10, 0x01}
	der := memResponse(t, s, sn, memT0)

	m := newOCSPMemory(100)
	m.put(m.ticket(), sn, "iss", crypto.SHA1, der, memT0, false)
	if m.get(sn, "iss", crypto.SHA1) != nil {
		t.Fatal("held before the first poll")
	}
	m.polled.Store(true)
	old := m.ticket()
	m.drop(hex.EncodeToString([]byte{0x10, 0x02})) // any serial's revocation
	m.put(old, sn, "iss", crypto.SHA1, der, memT0, false)
	if m.get(sn, "iss", crypto.SHA1) != nil {
		t.Fatal("a fill from before a drop landed")
	}
	m.put(m.ticket(), sn, "iss", crypto.SHA1, der, memT0, true)
	if m.get(sn, "iss", crypto.SHA1) != nil {
		t.Fatal("the refresher's fill was held though nothing was")
	}
	m.put(m.ticket(), sn, "iss", crypto.SHA1, der, memT0, false)
	if m.get(sn, "iss", crypto.SHA1) == nil || m.get(sn, "iss", crypto.SHA256) != nil || m.get(sn, "other", crypto.SHA1) != nil {
		t.Fatal("held under the wrong key")
	}
	m.drop(hex.EncodeToString(sn))
	if m.get(sn, "iss", crypto.SHA1) != nil || m.len() != 0 {
		t.Fatal("drop left it")
	}
}

// Lookup answers only a response held for the CertID's issuer, hash and
// serial, only while the last poll is within the bound, before the
// response's refresh time and before Revalidate since its status was read;
// the memory never holds a response due for refresh, and sweep frees one.
func TestMemoryLookupRules(t *testing.T) {
	s, cert := memSignerCA(t)
	sn := []byte{0x10, 0x03}
	der := memResponse(t, s, sn, memT0)
	due := ocspresp.RefreshDeadline(memT0, memT0.Add(96*time.Hour)).Add(-ocspresp.RefreshMargin)
	m := polledMemory(100)
	m.put(m.ticket(), sn, "iss", crypto.SHA1, der, due, false)
	if m.len() != 0 {
		t.Fatal("held a response due for refresh")
	}
	checked := due.Add(-2 * time.Hour)
	m.put(m.ticket(), sn, "iss", crypto.SHA1, der, checked, false)
	o := &Responder{mem: m, cfg: ResponderConfig{Revalidate: time.Hour}}
	name, key, err := ocspresp.IssuerHashes(cert, crypto.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	o.issuers.Store(&issuerTable{issuers: []issuerEntry{{iss: issuance.Issuer{ID: "iss"}, cert: cert, hashes: map[crypto.Hash][2][]byte{crypto.SHA1: {name, key}}}}})
	id := ocspresp.CertID{Hash: crypto.SHA1, NameHash: name, KeyHash: key, Serial: sn}
	m.validUntil.Store(due.Add(time.Hour).UnixNano())
	if o.Lookup(id, checked) == nil {
		t.Fatal("not answered")
	}
	if o.Lookup(ocspresp.CertID{Hash: crypto.SHA1, NameHash: key, KeyHash: name, Serial: sn}, checked) != nil {
		t.Fatal("answered for another issuer")
	}
	if o.Lookup(ocspresp.CertID{Hash: crypto.SHA1, NameHash: name, KeyHash: key, Serial: []byte{0x10, 0x04}}, checked) != nil {
		t.Fatal("answered for another serial")
	}
	if o.Lookup(id, checked.Add(time.Hour)) != nil {
		t.Fatal("answered at Revalidate since the status was read")
	}
	m.put(m.ticket(), sn, "iss", crypto.SHA1, der, due.Add(-time.Minute), false) // read again
	if o.Lookup(id, due.Add(-time.Second)) == nil {
		t.Fatal("not answered before the refresh time")
	}
	if o.Lookup(id, due) != nil {
		t.Fatal("answered at the refresh time")
	}
	m.validUntil.Store(due.Add(-time.Second).UnixNano())
	if o.Lookup(id, due.Add(-time.Second)) != nil {
		t.Fatal("answered at the staleness bound")
	}
	m.sweep(due.Add(-time.Second))
	if m.len() != 1 {
		t.Fatal("swept a response before its refresh time")
	}
	m.sweep(due)
	if m.len() != 0 {
		t.Fatal("kept a response due for refresh")
	}
}

// The memory is used from every request and the poller at once (run with
// -race).
func TestMemoryConcurrentUse(t *testing.T) {
	s := memSigner(t)
	var ders [][]byte
	var serials [][]byte
	for i := 0; i < 32; i++ {
		sn := []byte{0x10, byte(i), byte(i * 7)}
		serials = append(serials, sn)
		ders = append(ders, memResponse(t, s, sn, memT0))
	}
	m := polledMemory(16)
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 2000; i++ {
				k := (i*5 + g) % len(serials)
				switch i % 7 {
				case 0:
					m.drop(hex.EncodeToString(serials[k]))
				case 1:
					if g == 0 && i%140 == 1 {
						m.flush()
					}
				case 2:
					m.sweep(memT0)
				default:
					h := crypto.SHA1
					if i%3 == 0 {
						h = crypto.SHA256 // a serial's second response
					}
					m.put(m.ticket(), serials[k], "iss", h, ders[k], memT0, i%5 == 0)
					if e := m.get(serials[k], "iss", crypto.SHA1); e != nil {
						e.used.Store(true)
					}
				}
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	if n := m.len(); n > 16 {
		t.Fatalf("%d held, cap 16", n)
	}
	held := 0
	for i := range m.shards {
		for _, s := range m.shards[i].m {
			held += len(s.entries)
		}
	}
	if held != m.len() {
		t.Fatalf("the count says %d, the maps hold %d", m.len(), held)
	}
}
