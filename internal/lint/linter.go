// Package lint is vetca's pre-issuance and post-issuance linter: zlint v3
// with a filtered registry, plus vetca's own lints written in zlint's lint
// interface (lint.LintMetadata + CheckApplies + Execute on zcrypto
// certificates), each citing the BR section it checks.
//
// The zlint registry is filtered once, in New. Exactly one lint is left
// out:
//
//   - e_cert_issued_by_compromised_emudhra_ca can only fire for
//     certificates issued by a handful of specific eMudhra CA keys (it does
//     eight P-384 signature checks against them), so it can never fire for a
//     vetca issuer, yet it costs about 87% of zlint's time per certificate
//     (6.6 ms versus 0.62 ms per certificate per core; see
//     BenchmarkLintLeaf).
//
// Every other zlint lint (certificate, CRL and OCSP) runs.
//
// vetca's own certificate lints are laid out as zlint lays out its lints:
// one lint per file, lint_<name>.go, holding the Lint* name constant and a
// constructor that returns a Lint (Metadata with name, description, BR
// citation, source and effective date; Applies; Check). NewVetcaRegistry
// lists the constructors and returns an explicit VetcaRegistry value; no
// init function registers anything. As in zlint, a lint returns NE for a
// certificate whose notBefore is before its EffectiveDate. The
// subject-equality lint (LintSubjectNotVetted) needs the expected subjects
// of one issuance and runs only when they are given. Each lint has a pass
// and a fail certificate in testdata/ (made once by TestGenerateTestdata)
// and a table test, citing the BR section, in lint_<name>_test.go.
//
// A *Linter also signs linting certificates (LintTemplate, which satisfies
// profile.Linter): the to-be-signed certificate is signed by a throwaway
// key under a throwaway issuer certificate that copies the real issuer's
// subject, subject key identifier, key algorithm and size, so the linted
// TBSCertificate is byte for byte the one the real key will sign.
package lint

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	zlintv3 "github.com/zmap/zlint/v3"
	zlint "github.com/zmap/zlint/v3/lint"
	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/profile"
)

var _ profile.Linter = (*Linter)(nil)

// ExcludedZlintLints returns the names of the zlint lints New filters out
// of the registry (see the package documentation for why).
func ExcludedZlintLints() []string {
	return []string{"e_cert_issued_by_compromised_emudhra_ca"}
}

// Option configures a Linter.
type Option func(*options)

type options struct {
	extra    []*zlint.CertificateLint
	tolerate map[string]string
}

// WithToleratedWarnings tolerates more certificate warnings (never errors)
// beyond ToleratedWarnings, each with the operator's reason. vetca uses it
// only for `serve --dev`, whose loopback public URL makes zlint warn about
// internal names in AIA and CRL URLs; the tolerance is logged at start-up.
func WithToleratedWarnings(reasons map[string]string) Option {
	return func(o *options) {
		if o.tolerate == nil {
			o.tolerate = map[string]string{}
		}
		for k, v := range reasons {
			o.tolerate[k] = v
		}
	}
}

// WithExtraLints adds certificate lints that run after zlint and vetca's
// own lints. Tests use it to force a failure; the shipped binary never
// passes it.
func WithExtraLints(lints ...*zlint.CertificateLint) Option {
	return func(o *options) { o.extra = append(o.extra, lints...) }
}

// Linter lints certificates, CRLs and OCSP responses. It is safe for
// concurrent use.
type Linter struct {
	registry zlint.Registry
	vetca    *VetcaRegistry
	extra    []*zlint.CertificateLint
	tolerate map[string]string

	mu         sync.Mutex
	throwaways map[[sha256.Size]byte]*throwawayIssuer
}

// Names returns the names of every certificate lint the linter runs:
// zlint's (filtered), vetca's own and any extra ones, sorted.
func (l *Linter) Names() []string {
	out := append(l.registry.Names(), l.vetca.Names()...)
	for _, x := range l.extra {
		out = append(out, x.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// New builds the filtered zlint registry and vetca's lints.
func New(opts ...Option) (*Linter, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	reg, err := zlint.GlobalRegistry().Filter(zlint.FilterOptions{ExcludeNames: ExcludedZlintLints()})
	if err != nil {
		return nil, fmt.Errorf("lint: filtering the zlint registry: %w", err)
	}
	for _, l := range o.extra {
		if l == nil || l.Lint == nil || l.Name == "" {
			return nil, errors.New("lint: an extra lint needs a name and a constructor")
		}
	}
	for name := range o.tolerate {
		if !strings.HasPrefix(name, "w_") {
			return nil, fmt.Errorf("lint: only warnings (w_...) can be tolerated, not %s", name)
		}
	}
	vetca, err := NewVetcaRegistry()
	if err != nil {
		return nil, err
	}
	return &Linter{
		registry:   reg,
		vetca:      vetca,
		extra:      o.extra,
		tolerate:   o.tolerate,
		throwaways: make(map[[sha256.Size]byte]*throwawayIssuer),
	}, nil
}

// Registry returns the filtered zlint registry the Linter runs.
func (l *Linter) Registry() zlint.Registry { return l.registry }

// VetcaRegistry returns vetca's own certificate lints, which the Linter
// runs after zlint's.
func (l *Linter) VetcaRegistry() *VetcaRegistry { return l.vetca }

// ListCertificateLints returns the metadata of every certificate lint the
// Linter runs, zlint's (without the filtered ones) and vetca's, sorted by
// name. Extra lints (WithExtraLints) are not listed.
func (l *Linter) ListCertificateLints() []Metadata {
	var out []Metadata
	for _, zl := range l.registry.CertificateLints().Lints() {
		out = append(out, Metadata{
			Name:          zl.Name,
			Description:   zl.Description,
			Citation:      zl.Citation,
			Source:        zl.Source,
			EffectiveDate: zl.EffectiveDate,
		})
	}
	out = append(out, l.vetca.Metadata()...)
	slices.SortFunc(out, func(a, b Metadata) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// LintCertificate lints a DER certificate with the filtered zlint registry,
// vetca's lints, and the extra lints. With expected subjects it also checks
// that the subject equals each of them attribute for attribute
// (LintSubjectNotVetted); with none, that lint does not run. The error is
// for a certificate that cannot be parsed; lint failures are in the
// report (use Report.Err).
func (l *Linter) LintCertificate(der []byte, expected ...profile.Subject) (*Report, error) {
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("lint: parsing certificate: %w", err)
	}
	rs := zlintv3.LintCertificateEx(c, l.registry)
	r := &Report{}
	for name, res := range rs.Results {
		r.add(name, res, res.LintMetadata.Citation, l.tolerated)
	}
	cfg := l.registry.GetConfiguration()
	run := func(cl *zlint.CertificateLint) {
		r.add(cl.Name, cl.Execute(c, cfg), cl.Citation, l.tolerated)
	}
	in := Input{Expected: expected}
	for _, vl := range l.vetca.lints {
		if vl.NeedsExpectedSubjects && len(expected) == 0 {
			continue
		}
		run(vl.ZLint(in))
	}
	for _, cl := range l.extra {
		run(cl)
	}
	r.sort()
	return r, nil
}

// LintCRL lints a DER CRL with zlint's revocation-list lints.
func (l *Linter) LintCRL(der []byte) (*Report, error) {
	crl, err := zx509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("lint: parsing CRL: %w", err)
	}
	rs := zlintv3.LintRevocationListEx(crl, l.registry)
	r := &Report{}
	for name, res := range rs.Results {
		r.add(name, res, res.LintMetadata.Citation, nil)
	}
	r.sort()
	return r, nil
}

// LintOCSPResponse lints a DER OCSP response with zlint's OCSP lints. If
// issuer is not nil the response's signature is checked against it first
// (see ocsp.ParseResponse).
func (l *Linter) LintOCSPResponse(der []byte, issuer *x509.Certificate) (*Report, error) {
	resp, err := ocsp.ParseResponse(der, issuer)
	if err != nil {
		return nil, fmt.Errorf("lint: parsing OCSP response: %w", err)
	}
	rs := zlintv3.LintOcspResponseEx(resp, l.registry)
	r := &Report{}
	for name, res := range rs.Results {
		r.add(name, res, res.LintMetadata.Citation, nil)
	}
	r.sort()
	return r, nil
}

// LintTemplate signs template (its PublicKey field is the subject key) with
// a throwaway key under a throwaway copy of issuer and lints the result with
// LintCertificate(der, expected...). It returns the linting certificate's
// DER; the error is non-nil if signing failed or the report fails (then it
// wraps an *Error naming the lints, and the DER is still returned for the
// record). It implements profile.Linter.
func (l *Linter) LintTemplate(template, issuer *x509.Certificate, expected ...profile.Subject) ([]byte, error) {
	der, err := l.SignLintCertificate(template, issuer)
	if err != nil {
		return nil, err
	}
	rep, err := l.LintCertificate(der, expected...)
	if err != nil {
		return der, err
	}
	if err := rep.Err(); err != nil {
		return der, err
	}
	return der, nil
}

// SignLintCertificate signs template under the throwaway issuer that
// stands in for issuer and returns the DER. The throwaway issuer and its
// key are made once per real issuer certificate and kept by the Linter.
func (l *Linter) SignLintCertificate(template, issuer *x509.Certificate) ([]byte, error) {
	if template == nil || template.PublicKey == nil {
		return nil, errors.New("lint: the template has no public key")
	}
	ti, err := l.throwawayFor(issuer)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ti.cert, template.PublicKey, ti.key)
	if err != nil {
		return nil, fmt.Errorf("lint: signing the linting certificate: %w", err)
	}
	return der, nil
}

// WarmIssuer makes the throwaway issuer for issuer now, so the first
// LintTemplate for it does not pay for the key generation (seconds for an
// RSA 4096 issuer). Calling it is optional.
func (l *Linter) WarmIssuer(issuer *x509.Certificate) error {
	_, err := l.throwawayFor(issuer)
	return err
}

// throwawayIssuer is a self-signed certificate with the real issuer's
// subject and subject key identifier, and the key that signs it.
type throwawayIssuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (l *Linter) throwawayFor(issuer *x509.Certificate) (*throwawayIssuer, error) {
	if issuer == nil || len(issuer.Raw) == 0 {
		return nil, errors.New("lint: an issuer certificate is required")
	}
	id := sha256.Sum256(issuer.Raw)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ti, ok := l.throwaways[id]; ok {
		return ti, nil
	}
	ti, err := newThrowawayIssuer(issuer)
	if err != nil {
		return nil, err
	}
	l.throwaways[id] = ti
	return ti, nil
}

func newThrowawayIssuer(issuer *x509.Certificate) (*throwawayIssuer, error) {
	var key crypto.Signer
	var err error
	switch pub := issuer.PublicKey.(type) {
	case *ecdsa.PublicKey:
		key, err = ecdsa.GenerateKey(pub.Curve, rand.Reader)
	case *rsa.PublicKey:
		key, err = rsa.GenerateKey(rand.Reader, pub.N.BitLen())
	default:
		return nil, fmt.Errorf("lint: unsupported issuer key type %T", issuer.PublicKey)
	}
	if err != nil {
		return nil, fmt.Errorf("lint: generating the throwaway issuer key: %w", err)
	}
	sigAlg, err := profile.SignatureAlgorithmFor(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		RawSubject:            issuer.RawSubject,
		SubjectKeyId:          issuer.SubjectKeyId,
		NotBefore:             issuer.NotBefore,
		NotAfter:              issuer.NotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SignatureAlgorithm:    sigAlg,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("lint: creating the throwaway issuer: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("lint: parsing the throwaway issuer: %w", err)
	}
	if !bytes.Equal(cert.RawSubject, issuer.RawSubject) || !bytes.Equal(cert.SubjectKeyId, issuer.SubjectKeyId) {
		return nil, errors.New("lint: the throwaway issuer does not carry the issuer's name and key identifier")
	}
	return &throwawayIssuer{cert: cert, key: key}, nil
}

// tolerated reports whether a certificate warning is tolerated, and why.
func (l *Linter) tolerated(name string) (string, bool) {
	if why, ok := toleratedCertWarning(name); ok {
		return why, true
	}
	why, ok := l.tolerate[name]
	return why, ok
}
