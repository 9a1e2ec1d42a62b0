package cpr_test

import (
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/cpr"
)

// pastedCerts returns n self-signed certificates in PEM, as a reporter
// pastes them into a mail.
func pastedCerts(t *testing.T, n int) []string {
	key := rsaKey(t)
	var out []string
	for i := range n {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: fmt.Sprintf("pasted-%d.example.org", i)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{fmt.Sprintf("pasted-%d.example.org", i)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pemOf("CERTIFICATE", der))
	}
	return out
}

// pemAttachments are the PEM blocks of a body, as the mail intake
// (cprmail) hands them over beside the body.
func pemAttachments(body string) [][]byte {
	var out [][]byte
	for rest := []byte(body); ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			return out
		}
		out = append(out, pem.EncodeToMemory(blk))
	}
}

// A mailed report is never refused for its length (BR §4.9.3: reports are
// taken in): PEM blocks pasted in it are evidence, as the API's
// certificates are, not description, and a text still longer than the
// description holds is cut with a mark and kept whole in the evidence. A
// pasted private key is checked as the proof and never stored.
func TestLongMailedReportsAreTaken(t *testing.T) {
	certs := pastedCerts(t, 20)
	long := strings.Repeat("The subject of these certificates is not the vetted one. ", 600)
	key := ecKey(t, elliptic.P256())
	cases := []struct {
		name, body string
		certs      int
		cut        bool
	}{
		{"a short note and 20 pasted certificates", "Please look at these:\n\n" + strings.Join(certs, "\n") + "\nThanks.", 20, false},
		{"a text longer than a description", long, 0, true},
		{"a pasted private key", "This key is on a paste site:\n" + pkcs8(t, key), 0, false},
	}
	each(t, func(t *testing.T, d *desk) {
		issue(t, d.OrderFixture, key)
		ctx := context.Background()
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if len(c.body) <= cpr.MaxDescription && c.cut {
					t.Fatalf("the body is %d bytes", len(c.body))
				}
				got, err := d.App.CPR.Submit(ctx, cpr.FromMail("finder@example.org", "Problem report", c.body, pemAttachments(c.body)))
				if err != nil {
					t.Fatalf("mailed report (%d bytes) refused: %v", len(c.body), err)
				}
				v := d.Do("GET", "/api/v1/problem-reports/"+got.ID, d.Carol, nil)
				desc, _ := v.Body["description"].(string)
				ev, _ := v.Body["evidence"].(map[string]any)
				mailText, _ := ev["mailText"].(string)
				if len(desc) > cpr.MaxDescription || strings.Contains(desc, "-----BEGIN") || !strings.Contains(desc, "Problem report") {
					t.Errorf("description (%d bytes) %.200q", len(desc), desc)
				}
				if n := len(strs(ev["certificates"])); n != c.certs {
					t.Errorf("%d certificates in the evidence, want %d", n, c.certs)
				}
				if c.cut != strings.Contains(desc, "[cut here") || c.cut != strings.Contains(mailText, strings.TrimSpace(long)) {
					t.Errorf("cut: description ends %q, mailText %d bytes", desc[max(0, len(desc)-120):], len(mailText))
				}
			})
		}
	})
}

// A mail whose subject or text holds a NUL (a broken client, or a binary
// pasted in) is taken as any other (BR §4.9.3), the NUL shown as U+FFFD:
// PostgreSQL cannot store a NUL in text, and refusing the report for it
// would lose it.
func TestMailedReportWithANULIsTaken(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		got, err := d.App.CPR.Submit(context.Background(), cpr.FromMail("finder@example.org", "Problem\x00report", "The certificate\x00 is wrong.", nil))
		if err != nil {
			t.Fatalf("mailed report with a NUL refused: %v", err)
		}
		v := d.Do("GET", "/api/v1/problem-reports/"+got.ID, d.Carol, nil)
		if desc, _ := v.Body["description"].(string); desc != "Problem\uFFFDreport\n\nThe certificate\uFFFD is wrong." {
			t.Errorf("description %q", desc)
		}
	})
}

// A mailed CSR that proves a key compromised revokes and blocks the key on
// receipt, as the API's csr field does; the case keeps that CSR in its
// evidence as it keeps the API's, so the proof behind the revocation can
// be shown (BR §4.9.3, §5.4.1).
func TestMailedCSRIsKeptAsEvidence(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		key := ecKey(t, elliptic.P256())
		sn := issue(t, d.OrderFixture, key)
		csr := apptest.CSR(t, key, pkix.Name{CommonName: "proof of key compromise"})
		body := "The key of this certificate leaked; here is a CSR it signed:\n" + csr
		got, err := d.App.CPR.Submit(context.Background(), cpr.FromMail("finder@example.org", "Key compromise", body, pemAttachments(body)))
		if err != nil {
			t.Fatalf("mailed report refused: %v", err)
		}
		v := d.Do("GET", "/api/v1/problem-reports/"+got.ID, d.Carol, nil)
		if v.Body["status"] != "decided" {
			t.Fatalf("case %s, want decided on receipt: %s", v.Body["status"], v.Raw)
		}
		if c := d.Do("GET", "/api/v1/certificates/"+sn, d.Carol, nil); c.Body["status"] != "revoked" {
			t.Errorf("certificate %s: %v, want revoked", sn, c.Body["status"])
		}
		ev, _ := v.Body["evidence"].(map[string]any)
		if csrs := strs(ev["csrs"]); len(csrs) != 1 || strings.TrimSpace(csrs[0]) != strings.TrimSpace(csr) {
			t.Errorf("evidence CSRs %q, want the mailed CSR", csrs)
		}
	})
}

// A private key pasted in a mail in a form the desk cannot read as
// evidence (OpenSSH's, or encrypted, perhaps with its passphrase beside
// it) is not kept in the description either: a private key is never
// stored, only a mark saying where it was.
func TestMailedUnreadablePrivateKeyIsNotStored(t *testing.T) {
	for _, typ := range []string{"OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "DSA PRIVATE KEY"} {
		block := pemOf(typ, []byte("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ secret key material"))
		sub := cpr.FromMail("finder@example.org", "Key leaked", "The key, passphrase hunter2:\n"+block+"\nThanks.", nil)
		if strings.Contains(sub.Description, "-----BEGIN") || !strings.Contains(sub.Description, "["+typ) || !strings.Contains(sub.Description, "Thanks.") {
			t.Errorf("%s: description %q", typ, sub.Description)
		}
	}
}
