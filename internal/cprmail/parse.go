package cprmail

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Limits of the parser. The message as a whole is bounded by
// Options.MaxMessageBytes before it is parsed.
const (
	// MaxBodyBytes bounds Report.Body; a longer body is cut at a character
	// boundary (PEM blocks are looked for before the cut).
	MaxBodyBytes = 64 << 10
	// MaxParts is the most MIME parts a message may have.
	MaxParts = 200
	// MaxDepth is the deepest nesting of multiparts a message may have.
	MaxDepth = 10

	maxSubjectBytes  = 998
	maxFilenameBytes = 255
)

// problem says why a message was refused before reaching the Submitter.
type problem int

const (
	problemMalformed problem = iota + 1 // the message itself does not parse
	problemNoContent                    // neither a body nor an attachment
	problemNoSender                     // no reporter address
)

// messageError is the parser's refusal of a message.
type messageError struct {
	problem problem
	reason  string
}

func (e *messageError) Error() string { return e.reason }

func malformed(format string, args ...any) *messageError {
	return &messageError{problem: problemMalformed, reason: fmt.Sprintf(format, args...)}
}

// parseMessage turns a raw RFC 5322 message into a Report. envelopeFrom is
// the MAIL FROM address, used when the From: header does not parse. The
// error, if any, is a *messageError.
func parseMessage(raw []byte, envelopeFrom string) (Report, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Report{}, malformed("malformed message header: %v", err)
	}
	from, err := reporter(msg.Header, envelopeFrom)
	if err != nil {
		return Report{}, err
	}
	parts := 0
	w := &walker{parts: &parts}
	if err := w.part(textproto.MIMEHeader(msg.Header), msg.Body, 0); err != nil {
		return Report{}, malformed("malformed message: %v", err)
	}
	body := w.text()
	rep := Report{
		From:        from,
		Subject:     decodeSubject(msg.Header.Get("Subject")),
		Body:        boundBody(body),
		Attachments: append(pemBlocks(body), w.attachments...),
	}
	if rep.Body == "" && len(rep.Attachments) == 0 {
		return Report{}, &messageError{problem: problemNoContent, reason: "the message has no text and no attachment"}
	}
	return rep, nil
}

// reporter is the address the reports go to: the Reply-To: header's first
// address if it parses (RFC 5322 §3.6.2: where the author asks replies to
// go; a web form mailing from a no-reply address names its user there),
// else the From: header's, otherwise the envelope sender.
func reporter(h mail.Header, envelopeFrom string) (string, error) {
	if list, err := addressParser.ParseList(h.Get("Reply-To")); err == nil && len(list) > 0 && list[0].Address != "" {
		return list[0].Address, nil
	}
	list, herr := addressParser.ParseList(h.Get("From"))
	if herr == nil && len(list) > 0 && list[0].Address != "" {
		return list[0].Address, nil
	}
	if envelopeFrom != "" {
		a, err := mail.ParseAddress(envelopeFrom)
		if err == nil {
			return a.Address, nil
		}
		return "", &messageError{problem: problemNoSender,
			reason: fmt.Sprintf("no reporter address: the From: header does not parse and the envelope sender %q is invalid", clean(envelopeFrom, 100))}
	}
	if herr == nil {
		herr = errors.New("no address")
	}
	return "", &messageError{problem: problemNoSender,
		reason: fmt.Sprintf("no reporter address: From: header: %v, and the envelope sender is empty", herr)}
}

// walker collects the body texts and attachments of a MIME tree.
type walker struct {
	parts       *int // parts seen in the whole message
	plain       []string
	html        []string
	attachments []Attachment
	// forwarded are the texts of the messages forwarded as attachments
	// (message/rfc822), each under a line naming its sender.
	forwarded []string
}

// text is the body: the plain text parts, or the text of the HTML parts
// when there is no plain text, then the texts of the forwarded messages.
func (w *walker) text() string {
	s := strings.TrimSpace(strings.Join(w.plain, "\n"))
	if s == "" {
		s = strings.TrimSpace(htmlToText(strings.Join(w.html, "\n")))
	}
	return strings.TrimSpace(strings.Join(append([]string{s}, w.forwarded...), "\n\n"))
}

func (w *walker) merge(o *walker) {
	w.plain = append(w.plain, o.plain...)
	w.html = append(w.html, o.html...)
	w.attachments = append(w.attachments, o.attachments...)
	w.forwarded = append(w.forwarded, o.forwarded...)
}

func (w *walker) part(h textproto.MIMEHeader, r io.Reader, depth int) error {
	*w.parts++
	if *w.parts > MaxParts {
		return fmt.Errorf("more than %d MIME parts", MaxParts)
	}
	if depth > MaxDepth {
		return fmt.Errorf("multiparts nested deeper than %d", MaxDepth)
	}
	mediaType, params := contentType(h.Get("Content-Type"))
	if strings.HasPrefix(mediaType, "multipart/") {
		return w.multipart(mediaType, params["boundary"], r, depth)
	}
	data, err := decodeTransfer(h.Get("Content-Transfer-Encoding"), r)
	if err != nil {
		return fmt.Errorf("%s part: %w", mediaType, err)
	}
	if mediaType == "message/rfc822" {
		if msg, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
			return w.forward(msg, depth)
		}
	}
	disposition, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := filename(dparams["filename"], params["name"])
	isBody := disposition != "attachment" && name == ""
	switch {
	case isBody && mediaType == "text/plain":
		w.plain = append(w.plain, toUTF8(data, params["charset"]))
	case isBody && mediaType == "text/html":
		w.html = append(w.html, toUTF8(data, params["charset"]))
	default:
		w.attachments = append(w.attachments, Attachment{Filename: name, ContentType: mediaType, Data: data})
	}
	return nil
}

// forward walks a message forwarded as an attachment (a hosting provider
// passing on its customer's report): its text joins the body under a line
// naming its sender, and its attachments are the report's, so that a key
// attached to it is not lost inside an attachment nobody decodes.
func (w *walker) forward(msg *mail.Message, depth int) error {
	child := &walker{parts: w.parts}
	if err := child.part(textproto.MIMEHeader(msg.Header), msg.Body, depth+1); err != nil {
		return err
	}
	head := fmt.Sprintf("---------- Forwarded message from %s, subject %q ----------",
		clean(msg.Header.Get("From"), 200), decodeSubject(msg.Header.Get("Subject")))
	w.forwarded = append(w.forwarded, head+"\n"+child.text())
	w.attachments = append(w.attachments, child.attachments...)
	return nil
}

// multipart walks the parts of a multipart. Of a multipart/alternative the
// text is that of the preferred alternative (the first with plain text,
// else the first with HTML, else the last), and the attachments are those
// of every alternative: Apple Mail puts a mail's attachments in its HTML
// alternative only, beside a plain text one.
func (w *walker) multipart(mediaType, boundary string, r io.Reader, depth int) error {
	if boundary == "" {
		return fmt.Errorf("%s without a boundary", mediaType)
	}
	mr := multipart.NewReader(r, boundary)
	var alternatives []*walker
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", mediaType, err)
		}
		child := &walker{parts: w.parts}
		if err := child.part(p.Header, p, depth+1); err != nil {
			return err
		}
		alternatives = append(alternatives, child)
	}
	if mediaType != "multipart/alternative" {
		for _, c := range alternatives {
			w.merge(c)
		}
		return nil
	}
	best := preferred(alternatives)
	for _, c := range alternatives {
		if c == best {
			w.merge(c)
		} else {
			w.attachments = append(w.attachments, c.attachments...)
			w.forwarded = append(w.forwarded, c.forwarded...)
		}
	}
	return nil
}

func preferred(alts []*walker) *walker {
	for _, a := range alts {
		if strings.TrimSpace(strings.Join(a.plain, "")) != "" {
			return a
		}
	}
	for _, a := range alts {
		if strings.TrimSpace(strings.Join(a.html, "")) != "" {
			return a
		}
	}
	if len(alts) == 0 {
		return nil
	}
	return alts[len(alts)-1]
}

// contentType parses a Content-Type value; a missing or invalid one is
// text/plain (RFC 2045 §5.2).
func contentType(v string) (string, map[string]string) {
	mediaType, params, err := mime.ParseMediaType(v)
	if mediaType == "" || (err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter)) {
		return "text/plain", map[string]string{}
	}
	if params == nil {
		params = map[string]string{}
	}
	return mediaType, params
}

// decodeTransfer reads a part and undoes its Content-Transfer-Encoding.
func decodeTransfer(encoding string, r io.Reader) ([]byte, error) {
	switch enc := strings.ToLower(strings.TrimSpace(encoding)); enc {
	case "", "7bit", "8bit", "binary":
		return io.ReadAll(r)
	case "base64":
		raw, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return decodeBase64(raw)
	case "quoted-printable":
		data, err := io.ReadAll(quotedprintable.NewReader(r))
		if err != nil {
			return nil, fmt.Errorf("quoted-printable: %w", err)
		}
		return data, nil
	default:
		return nil, fmt.Errorf("unsupported Content-Transfer-Encoding %q", clean(enc, 40))
	}
}

// decodeBase64 decodes base64 text, ignoring white space and accepting
// missing padding.
func decodeBase64(raw []byte) ([]byte, error) {
	compact := bytes.Join(bytes.Fields(raw), nil)
	data, err := base64.StdEncoding.DecodeString(string(compact))
	if err == nil {
		return data, nil
	}
	data, rerr := base64.RawStdEncoding.DecodeString(string(bytes.TrimRight(compact, "=")))
	if rerr != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	return data, nil
}

// toUTF8 converts a text part to UTF-8 with \n line ends. Charsets other
// than UTF-8, US-ASCII, ISO-8859-1 and windows-1252 keep their valid UTF-8
// bytes.
func toUTF8(data []byte, charset string) string {
	var s string
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "windows-1252", "cp1252":
		// Not ISO-8859-1: 0x80-0x9F are €, dashes and quotes.
		d, _ := charmap.Windows1252.NewDecoder().Bytes(data)
		s = string(d)
	case "iso-8859-1", "latin1", "l1", "iso_8859-1":
		rs := make([]rune, len(data))
		for i, b := range data {
			rs[i] = rune(b)
		}
		s = string(rs)
	default:
		s = strings.ToValidUTF8(string(data), "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
}

// wordDecoder decodes RFC 2047 encoded words in any charset: one it does
// not know keeps its valid UTF-8 bytes (toUTF8), so that a display name or
// subject in, say, windows-1252 neither loses the From: address nor stays
// encoded.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return strings.NewReader(toUTF8(data, charset)), nil
}}

// addressParser parses the From: header with wordDecoder: the address is
// what the preliminary report goes to (BR §4.9.5), whatever the charset of
// the display name beside it.
var addressParser = &mail.AddressParser{WordDecoder: wordDecoder}

func decodeSubject(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		v = d
	}
	return clean(v, maxSubjectBytes)
}

// filename is the sanitized name of an attachment: no directories, no
// control characters, bounded.
func filename(fromDisposition, fromType string) string {
	name := fromDisposition
	if name == "" {
		name = fromType
	}
	if d, err := wordDecoder.DecodeHeader(name); err == nil {
		name = d
	}
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = clean(name, maxFilenameBytes)
	if name == "." || name == ".." {
		return ""
	}
	return name
}

// clean makes one line of printable text of s, bounded to max bytes.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return bound(strings.Join(strings.Fields(s), " "), max)
}

// bound cuts s to at most max bytes at a character boundary and trims it.
func bound(s string, max int) string {
	if len(s) > max {
		n := max
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return strings.TrimSpace(s)
}

// boundBody cuts the body to MaxBodyBytes. A PEM block the cut splits is
// left out whole: its first lines may be a private key's, and only a whole
// block is taken out of the text (it is an attachment all the same).
func boundBody(body string) string {
	if len(body) <= MaxBodyBytes {
		return bound(body, MaxBodyBytes)
	}
	cut := bound(body, MaxBodyBytes)
	if i := strings.LastIndex(cut, "-----BEGIN"); i >= 0 {
		if blk, _ := pem.Decode([]byte(cut[i:])); blk == nil {
			cut = strings.TrimSpace(cut[:i])
		}
	}
	return cut
}

// pemBlocks returns every PEM block in text as an attachment.
func pemBlocks(text string) []Attachment {
	var out []Attachment
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return out
		}
		data := pem.EncodeToMemory(block)
		if data == nil {
			continue
		}
		out = append(out, Attachment{
			Filename:    fmt.Sprintf("body-%d.pem", len(out)+1),
			ContentType: "application/x-pem-file",
			Data:        data,
		})
	}
}
