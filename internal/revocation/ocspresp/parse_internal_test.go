package ocspresp

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/ocsp"
)

// FuzzReadResponseMeta makes sure the handler's partial parser of Source
// responses never panics, and that whatever it accepts as successful has a
// serial and a thisUpdate.
func FuzzReadResponseMeta(f *testing.F) {
	f.Add(respUnauthorized)
	f.Add([]byte{0x30, 0x03, 0x0a, 0x01, 0x00})
	f.Add(bytes.Repeat([]byte{0x30, 0x80}, 8))
	f.Fuzz(func(t *testing.T, der []byte) {
		m, err := readResponseMeta(der)
		if err == nil && m.status == statusSuccessful && (m.serial == nil || m.thisUpdate.IsZero()) {
			t.Fatalf("accepted %x without serial or thisUpdate", der)
		}
	})
}

// getForms returns the ways a client may put der in a GET URL (RFC 5019 §5
// and what real clients do).
func getForms(der []byte) map[string]string {
	std := base64.StdEncoding.EncodeToString(der)
	return map[string]string{
		"path-escaped":      url.PathEscape(std),
		"query-escaped":     url.QueryEscape(std),
		"raw":               std,
		"plus as space":     strings.ReplaceAll(std, "+", " "),
		"unpadded":          strings.TrimRight(std, "="),
		"url-safe":          base64.URLEncoding.EncodeToString(der),
		"url-safe unpadded": base64.RawURLEncoding.EncodeToString(der),
	}
}

// FuzzParseRequest: the DER of a POST body, or of a GET path once decoded,
// is outside input. parseRequest accepts only an unsigned request about
// exactly one certificate (RFC 5019 §2.1.1), and an accepted request
// round-trips: its re-encoding parses to the same CertID. Every GET form of
// any DER decodes back to it.
func FuzzParseRequest(f *testing.F) {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		r := ocsp.Request{HashAlgorithm: h, IssuerNameHash: make([]byte, h.Size()), IssuerKeyHash: make([]byte, h.Size()), SerialNumber: big.NewInt(0x7001)}
		der, err := r.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x00})
	f.Add(bytes.Repeat([]byte{0x30, 0x80}, 8))
	f.Fuzz(func(t *testing.T, der []byte) {
		for name, form := range getForms(der) {
			got, err := decodeGET(form)
			if err != nil || !bytes.Equal(got, der) {
				t.Fatalf("GET form %s %q decodes to %x, %v; want %x", name, form, got, err, der)
			}
		}
		r, err := parseRequest(der)
		if err != nil {
			if r != nil {
				t.Fatalf("%x: refused with a request", der)
			}
			return
		}
		if r.SerialNumber == nil || len(r.IssuerNameHash) == 0 || len(r.IssuerKeyHash) == 0 {
			t.Fatalf("%x: accepted %+v", der, r)
		}
		if err := checkRequestDER(der); err != nil {
			t.Fatalf("%x: accepted although %v", der, err)
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("%x: accepted request does not re-encode: %v", der, err)
		}
		back, err := parseRequest(again)
		if err != nil || back.HashAlgorithm != r.HashAlgorithm || back.SerialNumber.Cmp(r.SerialNumber) != 0 ||
			!bytes.Equal(back.IssuerNameHash, r.IssuerNameHash) || !bytes.Equal(back.IssuerKeyHash, r.IssuerKeyHash) {
			t.Fatalf("%x: re-encoded as %x, which parses to %+v, %v; want %+v", der, again, back, err, r)
		}
	})
}

// checkRequestDER checks, independently of parseRequest and with
// encoding/asn1, that der is an unsigned OCSPRequest with exactly one
// Request, in which every element, extensions included, is well formed
// (RFC 6960 §4.1.1).
func checkRequestDER(der []byte) error {
	var outer []asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) > 0 {
		return fmt.Errorf("OCSPRequest: %v (%d bytes after it)", err, len(rest))
	}
	if len(outer) != 1 {
		return errors.New("a signature or extra fields after tbsRequest")
	}
	var tbs []asn1.RawValue
	if _, err := asn1.Unmarshal(outer[0].FullBytes, &tbs); err != nil {
		return fmt.Errorf("tbsRequest: %w", err)
	}
	lists := 0
	for _, f := range tbs {
		switch {
		case f.Class == asn1.ClassUniversal && f.Tag == asn1.TagSequence:
			lists++
			var list []asn1.RawValue
			if _, err := asn1.Unmarshal(f.FullBytes, &list); err != nil {
				return fmt.Errorf("requestList: %w", err)
			}
			if len(list) != 1 {
				return errors.New("not exactly one Request")
			}
			var single []asn1.RawValue
			if _, err := asn1.Unmarshal(list[0].FullBytes, &single); err != nil || len(single) == 0 || len(single) > 2 {
				return fmt.Errorf("Request: %v, %d fields", err, len(single))
			}
			if len(single) == 2 {
				if err := checkExtensions(single[1], 0); err != nil {
					return fmt.Errorf("singleRequestExtensions: %w", err)
				}
			}
		case f.Class == asn1.ClassContextSpecific && f.Tag == 2:
			if err := checkExtensions(f, 2); err != nil {
				return fmt.Errorf("requestExtensions: %w", err)
			}
		case f.Class == asn1.ClassContextSpecific && (f.Tag == 0 || f.Tag == 1):
		default:
			return fmt.Errorf("unexpected field [%d] %d in tbsRequest", f.Class, f.Tag)
		}
	}
	if lists != 1 {
		return fmt.Errorf("%d requestLists", lists)
	}
	return nil
}

// checkExtensions checks that v is [tag] EXPLICIT Extensions: a non-empty
// SEQUENCE OF SEQUENCE { OID, BOOLEAN OPTIONAL, OCTET STRING }.
func checkExtensions(v asn1.RawValue, tag int) error {
	if v.Class != asn1.ClassContextSpecific || v.Tag != tag || !v.IsCompound {
		return fmt.Errorf("not [%d] EXPLICIT", tag)
	}
	var exts []asn1.RawValue
	rest, err := asn1.Unmarshal(v.Bytes, &exts)
	if err != nil || len(rest) > 0 || len(exts) == 0 {
		return fmt.Errorf("%v, %d extensions, %d bytes after them", err, len(exts), len(rest))
	}
	for _, e := range exts {
		var fields []asn1.RawValue
		if _, err := asn1.Unmarshal(e.FullBytes, &fields); err != nil {
			return err
		}
		var id asn1.ObjectIdentifier
		if len(fields) < 2 || len(fields) > 3 || fields[0].Tag != asn1.TagOID || fields[len(fields)-1].Tag != asn1.TagOctetString ||
			(len(fields) == 3 && fields[1].Tag != asn1.TagBoolean) {
			return fmt.Errorf("extension with %d fields", len(fields))
		}
		if _, err := asn1.Unmarshal(fields[0].FullBytes, &id); err != nil {
			return err
		}
		if len(fields) == 3 {
			var critical bool
			if _, err := asn1.Unmarshal(fields[1].FullBytes, &critical); err != nil {
				return err
			}
		}
	}
	return nil
}

// FuzzDecodeGET: the path of a GET request is outside input. decodeGET
// never panics, and what it decodes, re-encoded in the canonical GET form,
// decodes to the same DER.
func FuzzDecodeGET(f *testing.F) {
	f.Add("MEMwQTA%2FMD0wOzAJBgUrDgMCGgUABBQ%3D")
	f.Add("MEMwQTA/MD0wOzAJBgUrDgMCGgUABBQ=")
	f.Add("MEMwQTA_MD0wOzAJBgUrDgMCGgUABBQ")
	f.Add("%zz")
	f.Add("a b+c-d_e")
	f.Fuzz(func(t *testing.T, raw string) {
		der, err := decodeGET(raw)
		if err != nil {
			return
		}
		again, err := decodeGET(url.PathEscape(base64.StdEncoding.EncodeToString(der)))
		if err != nil || !bytes.Equal(again, der) {
			t.Fatalf("%q decodes to %x, whose canonical form decodes to %x, %v", raw, der, again, err)
		}
	})
}
