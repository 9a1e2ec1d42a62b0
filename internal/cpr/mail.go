package cpr

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"strings"
	"unicode/utf8"
)

// FromMail makes the submission of a mailed report: the sender is the
// reporter, the subject and body are the description, and the attachments
// and the PEM blocks pasted in the body are the evidence, as certificates,
// keys and CSRs sent through the API are. A block is not copied into the
// description (a mark says where it was): a private key is never stored,
// and twenty pasted certificates would fill the description. A text still
// longer than MaxDescription is cut, with a mark saying so, and kept whole
// in the case's evidence (mailText), so a report is never refused for its
// length (BR §4.9.3). A mail that carries a key or a CSR is a
// key-compromise report; otherwise it is "other", and compliance
// recategorizes it when triaging.
func FromMail(from, subject, body string, attachments [][]byte) Submission {
	text, blocks := splitPEM(body)
	blobs := blocks
	for _, a := range attachments {
		if !containsBlob(blocks, a) {
			blobs = append(blobs, a)
		}
	}
	// Bytes that are not UTF-8, and NULs (no PostgreSQL text holds one),
	// become U+FFFD: a mail is taken as it came, never refused for them.
	full := strings.ToValidUTF8(strings.TrimSpace(strings.TrimSpace(subject)+"\n\n"+strings.TrimSpace(text)), "\uFFFD")
	full = strings.ReplaceAll(full, "\x00", "\uFFFD")
	if full == "" && len(blobs) > 0 {
		full = "[the mail has no text; the report is its attachments]"
	}
	sub := Submission{ReporterEmail: from, Category: string(CategoryOther), Description: full, Channel: ChannelEmail, Attachments: blobs}
	if len(full) > MaxDescription {
		sub.Description, sub.mailText = cutDescription(full), full
	}
	if ev, err := ParseEvidence(blobs); err != nil || len(ev.Keys) > 0 || len(ev.CSRs) > 0 {
		sub.Category = string(CategoryKeyCompromise)
	}
	return sub
}

const pemBegin = "-----BEGIN "

// splitPEM takes the certificates, CSRs and private keys pasted in a
// mail's text out of it: it returns the text with a mark in place of each,
// and the blocks (PEM, as ParseEvidence reads them). A private key of a
// form ParseEvidence does not read (OpenSSH's, encrypted) is taken out
// too: a private key is never stored. Other text, and a block of another
// type or one that does not decode, stays in the text.
func splitPEM(body string) (string, [][]byte) {
	var text strings.Builder
	var blocks [][]byte
	rest := body
	for {
		i := strings.Index(rest, pemBegin)
		if i < 0 {
			break
		}
		blk, after := pem.Decode([]byte(rest[i:]))
		n := len(rest) - i - len(after)
		if blk == nil || strings.Count(rest[i:i+n], pemBegin) != 1 || markOf(blk.Type) == "" {
			text.WriteString(rest[:i+len(pemBegin)])
			rest = rest[i+len(pemBegin):]
			continue
		}
		text.WriteString(rest[:i])
		text.WriteString(markOf(blk.Type) + "\n")
		blocks = append(blocks, pem.EncodeToMemory(blk))
		rest = rest[i+n:]
	}
	text.WriteString(rest)
	return text.String(), blocks
}

// markOf is what the description says in place of a block of evidence or
// a private key; "" for a type that stays in the text.
func markOf(typ string) string {
	switch typ {
	case "CERTIFICATE", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
		return "[" + typ + ": kept in the case's evidence]"
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		return "[" + typ + ": checked as a proof of key compromise; never stored]"
	}
	if strings.HasSuffix(typ, "PRIVATE KEY") {
		return "[" + typ + ": a private key in a form not read as evidence; never stored]"
	}
	return ""
}

func containsBlob(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

// cutDescription cuts a text longer than MaxDescription at a character
// boundary and says so at the end.
func cutDescription(s string) string {
	mark := fmt.Sprintf("\n\n[cut here: the mail's text is %d bytes, more than the %d a description holds; the whole text is kept in the case's evidence (mailText)]", len(s), MaxDescription)
	n := MaxDescription - len(mark)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + mark
}
