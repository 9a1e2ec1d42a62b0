package crl

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Windows calls fn with CRLs made of der's header, extensions and signature
// around consecutive runs of at most per of its entries, in order, until
// every entry was in one (a CRL without entries is passed whole, once). A
// linter that parses whole CRLs can so lint a shard of any size with
// memory for per entries: each window holds every byte of der but the
// other entries, so a rule about one entry or about the header reads
// exactly what der says. What a window cannot show is a rule across
// windows; of zlint's CRL lints only "no repeated serial" is one, and
// Check enforces it over the whole list (ascending order).
//
// A window's signature is der's, made over der's TBSCertList, so it does
// not verify: windows are for linting, never for publication. The slice
// passed to fn is reused for the next window.
func Windows(der []byte, per int, fn func(window []byte) error) error {
	if per < 1 {
		return errors.New("crl: Windows needs at least one entry per window")
	}
	in := cryptobyte.String(der)
	var outer, tbs cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !in.Empty() || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return fmt.Errorf("%w: not a CertificateList", ErrMalformed)
	}
	sigPart := []byte(outer) // signatureAlgorithm and signatureValue, as they are
	body := tbs
	// Skip version, signature, issuer, thisUpdate and nextUpdate to find
	// revokedCertificates.
	var skip cryptobyte.String
	var tag cbasn1.Tag
	body.SkipOptionalASN1(cbasn1.INTEGER)
	for i := 0; i < 3; i++ {
		if !body.ReadAnyASN1Element(&skip, &tag) {
			return fmt.Errorf("%w: malformed TBSCertList", ErrMalformed)
		}
	}
	if body.PeekASN1Tag(cbasn1.UTCTime) || body.PeekASN1Tag(cbasn1.GeneralizedTime) {
		if !body.ReadAnyASN1Element(&skip, &tag) {
			return fmt.Errorf("%w: malformed nextUpdate", ErrMalformed)
		}
	}
	headLen := len(tbs) - len(body)
	var list cryptobyte.String
	if !body.PeekASN1Tag(cbasn1.SEQUENCE) {
		return fn(der)
	}
	if !body.ReadASN1(&list, cbasn1.SEQUENCE) {
		return fmt.Errorf("%w: malformed revokedCertificates", ErrMalformed)
	}
	head, tail := []byte(tbs[:headLen]), []byte(body)
	var buf []byte
	for !list.Empty() {
		run := list
		n := 0
		for n < per && !list.Empty() {
			if !list.SkipASN1(cbasn1.SEQUENCE) {
				return fmt.Errorf("%w: malformed revokedCertificates entry", ErrMalformed)
			}
			n++
		}
		entries := run[:len(run)-len(list)]
		listHdr := headerLen(len(entries))
		tbsContent := len(head) + listHdr + len(entries) + len(tail)
		content := headerLen(tbsContent) + tbsContent + len(sigPart)
		buf = buf[:0]
		buf = appendHeader(buf, 0x30, content)
		buf = appendHeader(buf, 0x30, tbsContent)
		buf = append(buf, head...)
		buf = appendHeader(buf, 0x30, len(entries))
		buf = append(buf, entries...)
		buf = append(buf, tail...)
		buf = append(buf, sigPart...)
		if err := fn(buf); err != nil {
			return err
		}
	}
	return nil
}
