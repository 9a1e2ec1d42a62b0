package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

// issueForKey orders, approves and finalizes a certificate for key k.
func (c *ca) issueForKey(t *testing.T, k *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{}, DNSNames: []string{site}}, k)
	if err != nil {
		t.Fatal(err)
	}
	id := c.approvedCSR(t, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})))
	fin := c.Do("POST", "/api/v1/orders/"+id+"/finalize", c.accTok, nil)
	if fin.Status != 200 {
		t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
	}
	return fin.Body["serial"].(string)
}

// keyMail is a report by mail with the private key attached as a PKCS#8
// PEM file, base64-encoded as mail clients send it.
func keyMail(t *testing.T, from string, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	att := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	var b strings.Builder
	fmt.Fprintf(&b, "From: Finder <%s>\r\nTo: problems@ca.vetca-test.com\r\nSubject: leaked key\r\nMIME-Version: 1.0\r\n", from)
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n")
	b.WriteString("--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis key was published in a public repository.\r\n")
	b.WriteString("--b1\r\nContent-Type: application/x-pem-file\r\nContent-Disposition: attachment; filename=\"leaked.key\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for len(att) > 76 {
		b.WriteString(att[:76] + "\r\n")
		att = att[76:]
	}
	b.WriteString(att + "\r\n--b1--\r\n")
	return []byte(b.String())
}

// A report by mail is durable before its 250 (docs/design.md §12): the
// server is killed (SIGKILL) right after the answer; the restarted server
// has the case, decided on receipt because the attached key is the
// certificate's: revocation due at receipt + 24 h (BR §4.9.1.1 #3), the
// certificate revoked keyCompromise, the key blocked. A mail with nothing
// usable, or a key on no certificate, gets a 5xx and makes no case.
func TestProblemReportByMailSurvivesSIGKILL(t *testing.T) {
	Each(t, func(t *testing.T, in *Instance) {
		c := setupCA(t, in)
		in.Stop()
		mailAddr := freeAddr(t)
		in.Serve(append(serveArgs(c.dns), "--cpr-smtp-listen", mailAddr)...)
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		serial := c.issueForKey(t, k)

		err = smtp.SendMail(mailAddr, nil, "bounce@example.org", []string{"problems@ca.vetca-test.com"},
			[]byte("From: finder@example.org\r\nSubject: hello\r\n\r\n"))
		if err == nil || !strings.HasPrefix(err.Error(), "5") {
			t.Fatalf("a mail with nothing usable: %v, want a 5xx", err)
		}
		stranger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		err = smtp.SendMail(mailAddr, nil, "bounce@example.org", []string{"problems@ca.vetca-test.com"}, keyMail(t, "finder@example.org", stranger))
		if err == nil || !strings.HasPrefix(err.Error(), "550") || !strings.Contains(err.Error(), "attachments") {
			t.Fatalf("a key on no certificate: %v, want 550 naming the attachments", err)
		}
		if err := smtp.SendMail(mailAddr, nil, "bounce@example.org", []string{"anyone@ca.vetca-test.com"}, keyMail(t, "finder@example.org", k)); err != nil {
			t.Fatalf("report by mail: %v", err)
		}
		in.Kill()
		in.Serve(append(serveArgs(c.dns), "--cpr-smtp-listen", mailAddr)...)

		l := in.Do("GET", "/api/v1/problem-reports", c.carol, nil)
		cases, _ := l.Body["problemReports"].([]any)
		if l.Status != 200 || len(cases) != 1 {
			t.Fatalf("after SIGKILL and restart, want exactly one case: %d %s", l.Status, l.Raw)
		}
		id := cases[0].(map[string]any)["id"].(string)
		g := in.Do("GET", "/api/v1/problem-reports/"+id, c.carol, nil)
		received, _ := time.Parse(time.RFC3339, fmt.Sprint(g.Body["receivedAt"]))
		matched, _ := g.Body["matchedCertificates"].([]any)
		if g.Status != 200 || g.Body["channel"] != "email" || g.Body["reporterEmail"] != "finder@example.org" ||
			g.Body["category"] != "keyCompromise" || len(matched) != 1 || matched[0] != serial ||
			g.Body["revocationDue"] != received.Add(24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("case from mail: %d %s", g.Status, g.Raw)
		}
		cert := in.Do("GET", "/api/v1/certificates/"+serial, c.carol, nil)
		if !strings.Contains(string(cert.Raw), `"keyCompromise"`) {
			t.Fatalf("certificate %s not revoked keyCompromise: %s", serial, cert.Raw)
		}
		again := c.Do("POST", "/api/v1/orders", c.accTok, map[string]any{"organizationId": c.orgID, "dnsNames": []string{site},
			"csr": func() string {
				der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{site}}, k)
				return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
			}()})
		if again.Status < 400 || !strings.Contains(string(again.Raw), "block") {
			t.Errorf("an order with the reported key: %d %s, want it refused as blocked", again.Status, again.Raw)
		}
	})
}

// serve refuses to start when it cannot listen for mail, naming the flag.
func TestServeRefusesABadMailListener(t *testing.T) {
	in := New(t, "sqlite")
	code, out := in.ServeFails("--cpr-smtp-listen", "127.0.0.1:notaport")
	if code != 1 || !strings.Contains(out, "--cpr-smtp-listen 127.0.0.1:notaport") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// serve --dev starts with a problem report about the demo certificate on
// the compliance desk, its BR §4.9.5 clock running, and says where the
// public report form is.
func TestDevDemoHasAProblemReport(t *testing.T) {
	in := New(t, "sqlite")
	in.Serve("--dev")
	// The demo logins are printed once the listener is open, which can be
	// a moment after /healthz first answers.
	logs := in.Logs()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs, "Problem report ") && time.Now().Before(deadline); logs = in.Logs() {
		time.Sleep(20 * time.Millisecond)
	}
	var carol, id string
	for _, l := range lines(logs) {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "carol" {
			carol = f[2]
		}
		if rest, ok := strings.CutPrefix(l, "Problem report "); ok {
			id, _, _ = strings.Cut(rest, " ")
		}
	}
	if carol == "" || id == "" || !strings.Contains(logs, in.PublicURL+"/report") {
		t.Fatalf("dev output names no compliance login, problem report or report form:\n%s", logs)
	}
	g := in.Do("GET", "/api/v1/problem-reports/"+id, carol, nil)
	matched, _ := g.Body["matchedCertificates"].([]any)
	if g.Status != 200 || g.Body["status"] != "received" || len(matched) != 1 {
		t.Fatalf("demo case: %d %s", g.Status, g.Raw)
	}
}
