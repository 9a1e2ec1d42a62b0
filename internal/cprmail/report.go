package cprmail

import "context"

// Report is one problem report received by mail.
type Report struct {
	// From is the reporter: the From: header address when it parses,
	// otherwise the envelope sender (MAIL FROM).
	From    string
	Subject string
	// Body is the text/plain body (or the text of a text/html body), then
	// the text of each message forwarded as an attachment, with line ends
	// normalized to \n, trimmed and bounded to MaxBodyBytes.
	Body string
	// Attachments holds every MIME part that is not the body (those of a
	// forwarded message included), and every PEM block found in the body
	// text.
	Attachments []Attachment
}

// Attachment is one part of a report, its Data decoded from its transfer
// encoding (base64 or quoted-printable). A PEM block found in the body has
// ContentType "application/x-pem-file" and Data the block in PEM form.
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// Submitter stores reports. The application adapts the problem-report desk
// to it.
type Submitter interface {
	// SubmitMail stores the report durably and returns the case id. An error
	// that is a *Rejection (or wraps one) is answered with a 5xx naming the
	// reason; any other error with 451 (temporary).
	SubmitMail(ctx context.Context, r Report) (caseID string, err error)
}

// Rejection is a Submitter's permanent refusal of a report, such as a
// missing or invalid field. The sender receives Message in a 550 reply.
type Rejection struct {
	Field   string
	Message string
}

func (r *Rejection) Error() string {
	if r.Field == "" {
		return r.Message
	}
	return r.Field + ": " + r.Message
}
