package cprmail

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// testKeyAndCert returns a throwaway PKCS#8 EC key (PEM) and a self-signed
// certificate of it (DER).
func testKeyAndCert(t testing.TB) (keyPEM, certDER []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "compromised.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), cert
}

// wrap76 breaks base64 text into lines of 76 characters.
func wrap76(data []byte) string {
	s := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s + "\r\n")
	return b.String()
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func plainMessage(body string) string {
	return crlf("From: Reporter <reporter@example.org>\nTo: cpr@ca.test\nSubject: Key compromise\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body)
}

// attachmentMessage is a multipart/mixed mail with a text body and one
// base64 attachment.
func attachmentMessage(body, filename, contentType string, data []byte) string {
	return crlf("From: reporter@example.org\nTo: cpr@ca.test\nSubject: Problem report\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n--b1\nContent-Type: text/plain; charset=utf-8\n\n"+body+"\n--b1\nContent-Type: "+contentType+"; name=\""+filename+"\"\nContent-Disposition: attachment; filename=\""+filename+"\"\nContent-Transfer-Encoding: base64\n\n") +
		wrap76(data) + "--b1--\r\n"
}

// nestedMessage is multipart/mixed holding a multipart/alternative (quoted-
// printable plain text and HTML) and an inline certificate.
func nestedMessage(certDER []byte) string {
	return crlf("From: =?UTF-8?Q?Ren=C3=A9?= <rene@example.org>\nTo: cpr@ca.test\nSubject: =?UTF-8?B?UHJvYmzDqG1l?=\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: multipart/alternative; boundary=alt\n\n--alt\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nThe certificate is mis-issued, r=E9f=E9rence 42. A long line that is soft=\n wrapped.\n--alt\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>The certificate is <b>mis-issued</b></p></body></html>\n--alt--\n--outer\nContent-Type: application/pkix-cert\nContent-Disposition: inline; filename=\"leaf.cer\"\nContent-Transfer-Encoding: base64\n\n") +
		wrap76(certDER) + "--outer--\r\n"
}

// appleMailMessage is a multipart/alternative whose HTML alternative is a
// multipart/mixed holding the HTML and an attached key, as Apple Mail
// sends an attachment shown inline.
func appleMailMessage(keyPEM []byte) string {
	return crlf("From: a@example.org\nContent-Type: multipart/alternative; boundary=alt\n\n--alt\nContent-Type: text/plain; charset=us-ascii\n\nThe key is attached.\n\n--alt\nContent-Type: multipart/mixed; boundary=mix\n\n--mix\nContent-Type: text/html\n\n<html><body>The key is attached.</body></html>\n--mix\nContent-Type: application/octet-stream; name=key.pem\nContent-Disposition: inline; filename=key.pem\nContent-Transfer-Encoding: base64\n\n") +
		wrap76(keyPEM) + crlf("--mix\nContent-Type: text/html\n\n<html><body></body></html>\n--mix--\n--alt--\n")
}

// forwardedMessage is a mail forwarding another as message/rfc822, with a
// base64 key attached to the forwarded one.
func forwardedMessage(keyPEM []byte) string {
	inner := crlf("From: customer@example.com\nSubject: key\nContent-Type: multipart/mixed; boundary=in\n\n--in\nContent-Type: text/plain\n\nmy key leaked\n--in\nContent-Type: application/octet-stream; name=k.pem\nContent-Disposition: attachment; filename=k.pem\nContent-Transfer-Encoding: base64\n\n") +
		wrap76(keyPEM) + "--in--\r\n"
	return crlf("From: hoster@example.net\nContent-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: text/plain\n\nForwarding a customer's report.\n--out\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=fwd.eml\n\n") +
		inner + "\r\n--out--\r\n"
}

func TestParseMessage(t *testing.T) {
	keyPEM, certDER := testKeyAndCert(t)
	tests := []struct {
		name        string
		raw         string
		envelope    string
		from        string
		subject     string
		body        string
		attachments []Attachment
		problem     problem
	}{
		{name: "plain", raw: plainMessage("Hello,\nthe key leaked.\n"), from: "reporter@example.org", subject: "Key compromise", body: "Hello,\nthe key leaked."},
		{name: "PEM in body", raw: plainMessage("Here is the key:\n\n" + string(keyPEM) + "\nRegards\n"), from: "reporter@example.org", subject: "Key compromise",
			body:        "Here is the key:\n\n" + string(keyPEM) + "\nRegards",
			attachments: []Attachment{{Filename: "body-1.pem", ContentType: "application/x-pem-file", Data: keyPEM}}},
		{name: "PKCS#8 attachment", raw: attachmentMessage("see attached", "key.pem", "application/pkcs8", keyPEM), from: "reporter@example.org", subject: "Problem report", body: "see attached",
			attachments: []Attachment{{Filename: "key.pem", ContentType: "application/pkcs8", Data: keyPEM}}},
		{name: "DER attachment", raw: attachmentMessage("", "leaf.der", "application/octet-stream", certDER), from: "reporter@example.org", subject: "Problem report",
			attachments: []Attachment{{Filename: "leaf.der", ContentType: "application/octet-stream", Data: certDER}}},
		{name: "nested alternative", raw: nestedMessage(certDER), from: "rene@example.org", subject: "Problème",
			body:        "The certificate is mis-issued, référence 42. A long line that is soft wrapped.",
			attachments: []Attachment{{Filename: "leaf.cer", ContentType: "application/pkix-cert", Data: certDER}}},
		{name: "HTML only", raw: crlf("From: a@example.org\nContent-Type: text/html\n\n<html><head><style>p{}</style></head><body><p>Key&nbsp;leaked</p><script>x()</script><p>twice</p></body></html>"),
			from: "a@example.org", body: "Key leaked\n\ntwice"},
		// The preliminary report (BR §4.9.5) goes where the reporter
		// asked replies to go: a web form sends from a no-reply address.
		{name: "Reply-To before From", raw: crlf("From: CPR form <noreply@hoster.example>\nReply-To: Jane Roe <jane@example.org>\n\nbody"), from: "jane@example.org", body: "body"},
		{name: "unparseable Reply-To falls back to From", raw: crlf("From: a@example.org\nReply-To: not an address\n\nbody"), from: "a@example.org", body: "body"},
		{name: "envelope sender when From is bad", raw: crlf("From: not an address\n\nbody"), envelope: "bounce@example.net", from: "bounce@example.net", body: "body"},
		// windows-1252 is not ISO-8859-1: 0x80-0x9F are the euro sign,
		// dashes and typographic quotes, not C1 controls to drop.
		{name: "windows-1252 body", raw: crlf("From: a@example.org\nContent-Type: text/plain; charset=windows-1252\n\n\x93key leaked\x94 \x96 see \x80 invoice"),
			from: "a@example.org", body: "\u201ckey leaked\u201d \u2013 see \u20ac invoice"},
		{name: "no sender", raw: crlf("Subject: x\n\nbody"), problem: problemNoSender},
		// The reporter is who the BR §4.9.5 preliminary report goes to: a
		// display name in a charset the decoder does not know (Outlook's
		// windows-1252) must not lose the From: address to the envelope
		// sender (a forwarder's bounce address), nor refuse a mail whose
		// envelope sender is null.
		{name: "windows-1252 display name", raw: crlf("From: =?windows-1252?Q?J=F6rg_M=FCller?= <joerg@example.de>\n\nbody"),
			envelope: "bounces+SRS=x@forwarder.example.net", from: "joerg@example.de", body: "body"},
		{name: "windows-1252 display name, null sender", raw: crlf("From: =?windows-1252?Q?J=F6rg?= <joerg@example.de>\n\nbody"),
			from: "joerg@example.de", body: "body"},
		{name: "empty", raw: plainMessage("  \n\n"), problem: problemNoContent},
		{name: "empty multipart", raw: crlf("From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n--b--\n"), problem: problemNoContent},
		{name: "no header", raw: "no colon here\r\n\r\nbody", problem: problemMalformed},
		{name: "multipart without boundary", raw: crlf("From: a@example.org\nContent-Type: multipart/mixed\n\nx"), problem: problemMalformed},
		{name: "bad base64", raw: crlf("From: a@example.org\nContent-Transfer-Encoding: base64\n\n!!!notbase64"), problem: problemMalformed},
		{name: "unknown transfer encoding", raw: crlf("From: a@example.org\nContent-Transfer-Encoding: x-uuencode\n\nbegin"), problem: problemMalformed},
		// Apple Mail puts a mail's attachments in its HTML alternative
		// only: the plain text is the body, the key is still evidence.
		{name: "attachment in the HTML alternative", raw: appleMailMessage(keyPEM), from: "a@example.org", body: "The key is attached.",
			attachments: []Attachment{{Filename: "key.pem", ContentType: "application/octet-stream", Data: keyPEM}}},
		// An HTML body's white space folds a pasted block onto one line
		// (the client shows it with white-space: pre-wrap): it is still a
		// block, not text for the description.
		{name: "PEM folded in an HTML body", raw: crlf("From: a@example.org\nContent-Type: text/html\n\n<div style=\"white-space:pre-wrap\">Key:\n" + string(keyPEM) + "</div>"),
			from: "a@example.org", body: "Key:\n" + strings.TrimSpace(string(keyPEM)),
			attachments: []Attachment{{Filename: "body-1.pem", ContentType: "application/x-pem-file", Data: keyPEM}}},
		// A hosting provider forwards its customer's report as an
		// attachment: the key attached to it is the report's evidence, and
		// its text is read with the provider's.
		{name: "forwarded as an attachment", raw: forwardedMessage(keyPEM), from: "hoster@example.net",
			body:        "Forwarding a customer's report.\n\n---------- Forwarded message from customer@example.com, subject \"key\" ----------\nmy key leaked",
			attachments: []Attachment{{Filename: "k.pem", ContentType: "application/octet-stream", Data: keyPEM}}},
		{name: "path in filename", raw: attachmentMessage("x", "../../etc/passwd", "text/plain", []byte("root")), from: "reporter@example.org", subject: "Problem report", body: "x",
			attachments: []Attachment{{Filename: "passwd", ContentType: "text/plain", Data: []byte("root")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := parseMessage([]byte(tt.raw), tt.envelope)
			if tt.problem != 0 {
				me, ok := err.(*messageError)
				if !ok || me.problem != tt.problem {
					t.Fatalf("got %v (%+v), want problem %d", err, rep, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.From != tt.from || rep.Subject != tt.subject || rep.Body != tt.body {
				t.Errorf("got from %q subject %q body %q\nwant from %q subject %q body %q", rep.From, rep.Subject, rep.Body, tt.from, tt.subject, tt.body)
			}
			if len(rep.Attachments) != len(tt.attachments) {
				t.Fatalf("got %d attachments %+v, want %d", len(rep.Attachments), rep.Attachments, len(tt.attachments))
			}
			for i, a := range rep.Attachments {
				w := tt.attachments[i]
				if a.Filename != w.Filename || a.ContentType != w.ContentType || string(a.Data) != string(w.Data) {
					t.Errorf("attachment %d: got %q %q %d bytes, want %q %q %d bytes", i, a.Filename, a.ContentType, len(a.Data), w.Filename, w.ContentType, len(w.Data))
				}
			}
		})
	}
}

func TestParseMessageBoundsBody(t *testing.T) {
	rep, err := parseMessage([]byte(plainMessage(strings.Repeat("é", MaxBodyBytes))), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Body) > MaxBodyBytes || !strings.HasPrefix(rep.Body, "éé") || !strings.HasSuffix(rep.Body, "é") {
		t.Errorf("body of %d bytes, ends %q", len(rep.Body), rep.Body[len(rep.Body)-4:])
	}
}

// A PEM block that the MaxBodyBytes cut splits is not kept half in the
// body: a private key's first lines are key material, and the desk takes
// a block out of the text only whole (it is evidence all the same, as an
// attachment).
func TestParseMessageCutKeepsNoHalfBlock(t *testing.T) {
	keyPEM, _ := testKeyAndCert(t)
	lines := strings.Split(strings.TrimSpace(string(keyPEM)), "\n")
	// Cut in the key's second line, and in its END line.
	for _, keep := range []int{len(lines[0]) + len(lines[1]) - 4, len(keyPEM) - 6} {
		body := strings.Repeat("x", MaxBodyBytes-keep) + "\n" + string(keyPEM)
		rep, err := parseMessage([]byte(plainMessage(body)), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Attachments) != 1 || string(rep.Attachments[0].Data) != string(keyPEM) {
			t.Fatalf("attachments %+v, want the key", rep.Attachments)
		}
		for _, l := range lines[1 : len(lines)-1] {
			if strings.Contains(rep.Body, l[:8]) {
				t.Fatalf("the body keeps %q of a key cut at %d bytes: ends %q", l[:8], MaxBodyBytes, rep.Body[max(0, len(rep.Body)-200):])
			}
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(plainMessage("hello")))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep, err := parseMessage(raw, "envelope@example.org")
		if err != nil {
			if _, ok := err.(*messageError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if rep.From == "" || (rep.Body == "" && len(rep.Attachments) == 0) || len(rep.Body) > MaxBodyBytes {
			t.Fatalf("report without reporter or content or too long: %+v", rep)
		}
	})
}

// A legacy encrypted key (Proc-Type and DEK-Info headers, as openssl
// writes with -des3) folded onto one line by an HTML body is a block too,
// not text for the description: its passphrase is often in the same mail.
func TestParseMessageUnfoldsAFoldedEncryptedKey(t *testing.T) {
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,0123456789ABCDEF0123456789ABCDEF"},
		Bytes:   bytes.Repeat([]byte{0x5a}, 200)})
	raw := crlf("From: a@example.org\nContent-Type: text/html\n\n<div style=\"white-space:pre-wrap\">Key (passphrase hunter2):\n" + string(keyPEM) + "</div>")
	rep, err := parseMessage([]byte(raw), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Attachments) != 1 || !bytes.Equal(rep.Attachments[0].Data, keyPEM) {
		t.Fatalf("attachments %+v, want the encrypted key; body %q", rep.Attachments, rep.Body)
	}
}
