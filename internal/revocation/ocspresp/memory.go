package ocspresp

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// MemorySource is a Source that also keeps responses ready in memory. The
// Handler asks Lookup first; only when it returns nil does it parse the
// request in full and call Response.
//
// Lookup must not block or do I/O, must return only a response that is
// authoritative for id at now (its Source would have returned the same
// DER from Response), and must not retain id's slices.
type MemorySource interface {
	Source
	Lookup(id CertID, now time.Time) *Prepared
}

// CertID is the certificate a request asks about, as the request names it
// (RFC 6960 §4.1.1). Its slices point into the request and are valid only
// during the Lookup call.
type CertID struct {
	Hash     crypto.Hash // SHA-1 or SHA-256
	NameHash []byte
	KeyHash  []byte
	Serial   []byte // the serial's big-endian magnitude: positive, no leading zero
}

// Prepared is a successful response ready to be served: its DER and the
// RFC 5019 §6.2 header values, computed once (Prepare) rather than per
// request.
type Prepared struct {
	der          []byte
	serial       []byte
	thisUpdate   time.Time
	nextUpdate   time.Time
	etag         []string // header values, shared by every answer: never modified
	lastModified []string
	expires      []string
	length       []string
}

// Prepare reads what the Handler needs from a successful response with one
// SingleResponse and a nextUpdate, and computes its header values. It does
// not check the signature.
func Prepare(der []byte) (*Prepared, error) {
	m, err := readResponseMeta(der)
	if err != nil {
		return nil, err
	}
	if m.status != statusSuccessful || m.serial.Sign() <= 0 || m.nextUpdate.IsZero() {
		return nil, errBadResponse
	}
	sum := sha256.Sum256(der)
	return &Prepared{
		der:          der,
		serial:       m.serial.Bytes(),
		thisUpdate:   m.thisUpdate,
		nextUpdate:   m.nextUpdate,
		etag:         []string{`"` + hex.EncodeToString(sum[:]) + `"`},
		lastModified: []string{m.thisUpdate.UTC().Format(http.TimeFormat)},
		expires:      []string{m.nextUpdate.UTC().Format(http.TimeFormat)},
		length:       []string{strconv.Itoa(len(der))},
	}, nil
}

// DER returns the response. The caller must not modify it.
func (p *Prepared) DER() []byte { return p.der }

// ThisUpdate and NextUpdate are the response's validity bounds.
func (p *Prepared) ThisUpdate() time.Time { return p.thisUpdate }

// NextUpdate is the response's nextUpdate.
func (p *Prepared) NextUpdate() time.Time { return p.nextUpdate }

// Hash algorithm identifiers a CertID may name (the OID's content octets).
var (
	oidSHA1   = []byte{0x2b, 0x0e, 0x03, 0x02, 0x1a}
	oidSHA256 = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}
)

// ParseCertID reads the CertID of a DER OCSPRequest without allocating, for
// the common shape of request only: unsigned, no version or requestorName,
// exactly one Request, SHA-1 or SHA-256 with absent or NULL parameters, a
// positive minimally encoded serial; extensions, if any, well formed (and
// not interpreted). It reports false for anything else, which the Handler
// then parses in full: whatever ParseCertID accepts, the full parser
// accepts and reads the same way (FuzzParseCertID).
func ParseCertID(der []byte) (CertID, bool) {
	var id CertID
	in := cryptobyte.String(der)
	var req, tbs, list, single, cert, alg, oid, serial cryptobyte.String
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) || !in.Empty() || !req.ReadASN1(&tbs, cbasn1.SEQUENCE) || !req.Empty() {
		return id, false
	}
	if tbs.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) || tbs.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific().Constructed()) {
		return id, false
	}
	if !tbs.ReadASN1(&list, cbasn1.SEQUENCE) || !list.ReadASN1(&single, cbasn1.SEQUENCE) || !list.Empty() ||
		!readOptionalExtensions(&tbs, cbasn1.Tag(2).ContextSpecific().Constructed()) || !tbs.Empty() ||
		!single.ReadASN1(&cert, cbasn1.SEQUENCE) ||
		!readOptionalExtensions(&single, cbasn1.Tag(0).ContextSpecific().Constructed()) || !single.Empty() {
		return id, false
	}
	if !cert.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) {
		return id, false
	}
	if !alg.Empty() {
		var null cryptobyte.String
		if !alg.ReadASN1(&null, cbasn1.NULL) || len(null) != 0 || !alg.Empty() {
			return id, false
		}
	}
	switch {
	case bytes.Equal(oid, oidSHA1):
		id.Hash = crypto.SHA1
	case bytes.Equal(oid, oidSHA256):
		id.Hash = crypto.SHA256
	default:
		return id, false
	}
	var name, key cryptobyte.String
	if !cert.ReadASN1(&name, cbasn1.OCTET_STRING) || !cert.ReadASN1(&key, cbasn1.OCTET_STRING) ||
		!cert.ReadASN1(&serial, cbasn1.INTEGER) || !cert.Empty() {
		return id, false
	}
	switch {
	case len(serial) == 0 || serial[0]&0x80 != 0:
		return id, false
	case serial[0] == 0:
		if len(serial) == 1 || serial[1]&0x80 == 0 {
			return id, false
		}
		serial = serial[1:]
	}
	id.NameHash, id.KeyHash, id.Serial = name, key, serial
	return id, true
}

// maxFastGET bounds the GET paths decodeGETInto handles; an RFC 5019
// request is about 100 octets, 140 characters of base64.
const maxFastGET = 512

// decodeGETInto is decodeGET for the common case, without allocating: raw
// is the request path after the prefix, already percent-decoded (the
// server's URL.Path); the DER is written into dst. It reports false for
// what it does not handle (the caller then uses decodeGET), never a
// different reading.
func decodeGETInto(dst *[maxFastGET]byte, raw string) ([]byte, bool) {
	var b64 [maxFastGET]byte
	if len(raw) > len(b64) {
		return nil, false
	}
	n := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case ' ', '-':
			c = '+'
		case '_':
			c = '/'
		case '\r', '\n': // skipped by the base64 decoder; leave those to decodeGET
			return nil, false
		}
		b64[n] = c
		n++
	}
	for n > 0 && b64[n-1] == '=' {
		n--
	}
	m, err := base64.RawStdEncoding.Decode(dst[:], b64[:n])
	if err != nil {
		return nil, false
	}
	return dst[:m], true
}
