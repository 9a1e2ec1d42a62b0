package profile

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"
)

// Linter signs a linting certificate and lints it. internal/lint's *Linter
// implements it. LintTemplate must sign template (with template.PublicKey as
// the subject key) using a throwaway key, under a throwaway issuer
// certificate that has issuer's subject, subject key identifier and key
// algorithm, so that the result's TBSCertificate is exactly what issuer's
// real key would sign. It returns the DER of that linting certificate, and a
// non-nil error if signing failed or any lint failed; the subject of the
// certificate must equal every expected Subject attribute for attribute.
type Linter interface {
	LintTemplate(template, issuer *x509.Certificate, expected ...Subject) (lintCertDER []byte, err error)
}

// ErrAlreadySigned is returned by (*Prepared).Sign on every call after the
// first.
var ErrAlreadySigned = errors.New("profile: this prepared certificate has already been signed")

// ErrTBSMismatch is returned by (*Prepared).Sign when the bytes about to be
// signed, or the signed certificate's TBSCertificate, differ from the linted
// TBSCertificate.
var ErrTBSMismatch = errors.New("profile: the certificate to sign differs from the linted one")

// Prepared is a linted, not yet signed certificate (docs/design.md §6). It
// holds the template and the TBSCertificate that was linted; the caller
// records TBSHash (and Serial) in an issuance intent, then calls Sign once.
type Prepared struct {
	mu       sync.Mutex
	used     bool
	template *x509.Certificate
	issuer   *x509.Certificate
	lintCert []byte
	tbs      []byte
	tbsHash  [sha256.Size]byte
}

// Prepare builds the template of p with Template, has l sign and lint a
// linting certificate for it under issuer, and returns the result ready for
// signing. issuer is the real issuing CA certificate; p.Issuer may be left
// nil (it is then set to issuer) or must be the same certificate. expected
// are the subjects the certificate's subject must equal attribute for
// attribute: the caller passes the order snapshot's subject and the
// currently verified organization version's subject. At least one is
// required, so that the comparison with vetted data can never be skipped.
// When linting fails the error names the failing lints (it wraps the
// linter's error) and nothing can be signed.
func Prepare(p Params, issuer *x509.Certificate, l Linter, expected ...Subject) (*Prepared, error) {
	if issuer == nil {
		return nil, errors.New("profile: prepare: an issuer certificate is required")
	}
	if p.Issuer == nil {
		p.Issuer = issuer
	} else if !bytes.Equal(p.Issuer.Raw, issuer.Raw) {
		return nil, errors.New("profile: prepare: params name a different issuer certificate")
	}
	if l == nil {
		return nil, errors.New("profile: prepare: a linter is required")
	}
	if len(expected) == 0 {
		return nil, errors.New("profile: prepare: at least one expected (vetted) subject is required")
	}
	t, err := Template(p)
	if err != nil {
		return nil, err
	}
	lintDER, err := l.LintTemplate(t, issuer, expected...)
	if err != nil {
		return nil, fmt.Errorf("profile: prepare serial %x: %w", t.SerialNumber, err)
	}
	lc, err := x509.ParseCertificate(lintDER)
	if err != nil {
		return nil, fmt.Errorf("profile: prepare: parsing the linting certificate: %w", err)
	}
	if lc.SerialNumber.Cmp(t.SerialNumber) != 0 || !bytes.Equal(lc.RawIssuer, issuer.RawSubject) ||
		!bytes.Equal(lc.RawSubject, t.RawSubject) {
		return nil, errors.New("profile: prepare: the linting certificate does not match the template")
	}
	pr := &Prepared{
		template: t,
		issuer:   issuer,
		lintCert: lintDER,
		tbs:      lc.RawTBSCertificate,
		tbsHash:  sha256.Sum256(lc.RawTBSCertificate),
	}
	return pr, nil
}

// TBS returns a copy of the linted TBSCertificate DER.
func (p *Prepared) TBS() []byte { return append([]byte(nil), p.tbs...) }

// TBSHash returns the SHA-256 of the linted TBSCertificate, which the caller
// records in the issuance intent before calling Sign.
func (p *Prepared) TBSHash() [sha256.Size]byte { return p.tbsHash }

// LintCertificate returns a copy of the DER of the linting certificate
// (signed by the throwaway key; not trusted by anyone).
func (p *Prepared) LintCertificate() []byte { return append([]byte(nil), p.lintCert...) }

// Serial returns a copy of the certificate's serial number.
func (p *Prepared) Serial() *big.Int { return new(big.Int).Set(p.template.SerialNumber) }

// Issuer returns the issuer certificate the Prepared will be signed under.
func (p *Prepared) Issuer() *x509.Certificate { return p.issuer }

// Sign signs the prepared certificate with the real issuer key and returns
// its DER. The key is wrapped so that it is only ever asked to sign the hash
// of the linted TBSCertificate: if the bytes Go's x509 package produces
// differ in any way, the real key is not used and ErrTBSMismatch is
// returned. After signing, the certificate's RawTBSCertificate is compared
// with the linted TBS once more. s must be the key of the issuer
// certificate. A Prepared can be signed once: later calls, whatever the
// outcome of the first, return ErrAlreadySigned (prepare again, which yields
// the same TBS for the same inputs).
func (p *Prepared) Sign(s crypto.Signer) ([]byte, error) {
	if s == nil {
		return nil, errors.New("profile: sign: no signer")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used {
		return nil, ErrAlreadySigned
	}
	p.used = true

	h, err := hashFor(p.template.SignatureAlgorithm)
	if err != nil {
		return nil, err
	}
	hh := h.New()
	hh.Write(p.tbs)
	g := &tbsGuard{signer: s, hash: h, digest: hh.Sum(nil)}
	der, err := x509.CreateCertificate(rand.Reader, p.template, p.issuer, p.template.PublicKey, g)
	if err != nil {
		if g.refused {
			return nil, fmt.Errorf("%w: serial %x", ErrTBSMismatch, p.template.SerialNumber)
		}
		return nil, fmt.Errorf("profile: sign serial %x: %w", p.template.SerialNumber, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("profile: sign: parsing the signed certificate: %w", err)
	}
	if !bytes.Equal(c.RawTBSCertificate, p.tbs) {
		return nil, fmt.Errorf("%w: serial %x (after signing)", ErrTBSMismatch, p.template.SerialNumber)
	}
	return der, nil
}

func hashFor(alg x509.SignatureAlgorithm) (crypto.Hash, error) {
	switch alg {
	case x509.ECDSAWithSHA256, x509.SHA256WithRSA:
		return crypto.SHA256, nil
	case x509.ECDSAWithSHA384, x509.SHA384WithRSA:
		return crypto.SHA384, nil
	case x509.ECDSAWithSHA512, x509.SHA512WithRSA:
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("profile: unsupported signature algorithm %v", alg)
}

// tbsGuard lets the real key sign exactly one digest: the hash of the
// linted TBSCertificate.
type tbsGuard struct {
	signer  crypto.Signer
	hash    crypto.Hash
	digest  []byte
	refused bool
}

func (g *tbsGuard) Public() crypto.PublicKey { return g.signer.Public() }

func (g *tbsGuard) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || opts.HashFunc() != g.hash || !bytes.Equal(digest, g.digest) {
		g.refused = true
		return nil, ErrTBSMismatch
	}
	return g.signer.Sign(r, digest, opts)
}
