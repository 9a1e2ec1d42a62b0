package cpr_test

import (
	"crypto"
	"crypto/elliptic"
	"crypto/x509/pkix"
	"slices"
	"testing"

	"github.com/vetca/vetca/internal/apptest"
)

// Only a proof of key compromise decides a report on receipt (BR
// §4.9.1.1 item 3, 24 hours), and only for the key it proves: the private
// key, or, in a keyCompromise report, a CSR signed by the key that vetca
// never held before. Anything else a report names is matched and left to
// compliance (BR §4.9.5: investigate, then decide), so a report cannot
// revoke someone else's certificate and block their key with evidence
// that does not show the key compromised: a CSR filed as misissuance, an
// order's own CSR (sent through resellers, readable by every staff user),
// or a serial sent beside the proof of another key.
func TestOnlyAProofRevokesOnReceipt(t *testing.T) {
	type setup struct {
		body     map[string]any
		named    string        // the certificate the report names
		key      crypto.Signer // its key
		revoked  string        // the certificate that must be revoked, if any
		blocked  bool          // whether its key ends blocked (BR §6.1.1.3(4))
		decided  bool
		reported bool // the named key is kept as reported, not compromised
	}
	cases := []struct {
		name string
		make func(t *testing.T, d *desk) setup
	}{
		{"a fresh CSR in a misissuance report proves nothing", func(t *testing.T, d *desk) setup {
			key := ecKey(t, elliptic.P256())
			sn := issue(t, d.OrderFixture, key)
			return setup{named: sn, key: key, reported: true, body: map[string]any{"category": "misissuance",
				"csr": apptest.CSR(t, key, pkix.Name{CommonName: "proof of key compromise"})}}
		}},
		{"the order's own CSR proves nothing, even as keyCompromise", func(t *testing.T, d *desk) setup {
			key := ecKey(t, elliptic.P256())
			csr := apptest.CSR(t, key, pkix.Name{}, site)
			sn := issueCSR(t, d.OrderFixture, csr)
			return setup{named: sn, key: key, reported: true, body: map[string]any{"category": "keyCompromise", "csr": csr}}
		}},
		{"a private key revokes its certificate, not a serial sent beside it", func(t *testing.T, d *desk) setup {
			mine, victim := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P256())
			own := issue(t, d.OrderFixture, mine)
			sn := issue(t, d.Other, victim)
			return setup{named: sn, key: victim, revoked: own, decided: true, body: map[string]any{"category": "keyCompromise",
				"privateKey": pkcs8(t, mine), "serials": []string{sn}}}
		}},
		{"a fresh CSR in a keyCompromise report decides", func(t *testing.T, d *desk) setup {
			key := ecKey(t, elliptic.P256())
			sn := issue(t, d.OrderFixture, key)
			return setup{named: sn, key: key, revoked: sn, blocked: true, decided: true, body: map[string]any{"category": "keyCompromise",
				"csr": apptest.CSR(t, key, pkix.Name{CommonName: "proof of key compromise"})}}
		}},
	}
	each(t, func(t *testing.T, d *desk) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s := c.make(t, d)
				s.body["reporterEmail"], s.body["description"] = "finder@example.org", "see the attached"
				id := report(t, d, s.body)
				tick(t, d) // the watch revokes only what the decision covers
				v := d.Do("GET", "/api/v1/problem-reports/"+id, d.Carol, nil)
				if v.Status != 200 || !slices.Contains(strs(v.Body["matchedCertificates"]), s.named) {
					t.Fatalf("case: %d %s: want %s matched", v.Status, v.Raw, s.named)
				}
				if got := v.Body["status"] == "decided"; got != s.decided {
					t.Fatalf("decided on receipt: %v, want %v: %s", got, s.decided, v.Raw)
				}
				for _, sn := range []string{s.named, s.revoked} {
					if sn == "" {
						continue
					}
					cert := d.Do("GET", "/api/v1/certificates/"+sn, d.Carol, nil)
					if want := sn == s.revoked; (cert.Body["status"] == "revoked") != want {
						t.Errorf("certificate %s: status %v, want revoked %v", sn, cert.Body["status"], want)
					}
				}
				ev, _ := v.Body["evidence"].(map[string]any)
				if reported := len(strs(ev["reportedKeys"])) > 0; reported != s.reported {
					t.Errorf("evidence %v: reported keys %v, want %v", ev, reported, s.reported)
				}
				if s.blocked {
					checkBlocked(t, d, s.key)
				} else if id, r := approved(t, d.OrderFixture, s.key); id == "" {
					t.Errorf("an order with the named key, which nothing proved compromised: %d %s", r.Status, r.Raw)
				}
			})
		}
	})
}
