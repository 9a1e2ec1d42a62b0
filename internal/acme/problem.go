package acme

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/template"
)

// errNS is the namespace of RFC 8555 error types (§6.7).
const errNS = "urn:ietf:params:acme:error:"

// The RFC 8555 §6.7 error types vetca answers with.
const (
	ProbAccountDoesNotExist     = errNS + "accountDoesNotExist"
	ProbAlreadyReplaced         = errNS + "alreadyReplaced"
	ProbAlreadyRevoked          = errNS + "alreadyRevoked"
	ProbBadCSR                  = errNS + "badCSR"
	ProbBadNonce                = errNS + "badNonce"
	ProbBadPublicKey            = errNS + "badPublicKey"
	ProbBadRevocationReason     = errNS + "badRevocationReason"
	ProbBadSignatureAlgorithm   = errNS + "badSignatureAlgorithm"
	ProbCAA                     = errNS + "caa"
	ProbConnection              = errNS + "connection"
	ProbExternalAccountRequired = errNS + "externalAccountRequired"
	ProbIncorrectResponse       = errNS + "incorrectResponse"
	ProbMalformed               = errNS + "malformed"
	ProbOrderNotReady           = errNS + "orderNotReady"
	ProbRejectedIdentifier      = errNS + "rejectedIdentifier"
	ProbServerInternal          = errNS + "serverInternal"
	ProbUnauthorized            = errNS + "unauthorized"
	ProbUnsupportedContact      = errNS + "unsupportedContact"
	ProbUnsupportedIdentifier   = errNS + "unsupportedIdentifier"
)

// Identifier is an RFC 8555 §9.7.7 identifier.
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Problem is an RFC 7807 problem document with RFC 8555's additions:
// the subproblems, each naming its identifier (§6.7), and the algorithms
// accepted, on badSignatureAlgorithm only (§6.2).
type Problem struct {
	Type        string      `json:"type"`
	Detail      string      `json:"detail"`
	Status      int         `json:"status"`
	Identifier  *Identifier `json:"identifier,omitempty"`
	Subproblems []Problem   `json:"subproblems,omitempty"`
	Algorithms  []string    `json:"algorithms,omitempty"`
}

func (p *Problem) Error() string { return p.Type + ": " + p.Detail }

// problem returns a problem of type typ with HTTP status status.
func problem(typ string, status int, format string, args ...any) *Problem {
	return &Problem{Type: typ, Status: status, Detail: fmt.Sprintf(format, args...)}
}

// badSignatureAlgorithm refuses a JWS algorithm, listing the "alg"
// values accepted where it was used (RFC 8555 §6.2 requires the list).
func badSignatureAlgorithm(accepted []string, format string, args ...any) *Problem {
	p := problem(ProbBadSignatureAlgorithm, http.StatusBadRequest, format, args...)
	p.Algorithms = accepted
	return p
}

func malformed(format string, args ...any) *Problem {
	return problem(ProbMalformed, http.StatusBadRequest, format, args...)
}

// unauthorized is 403 unauthorized: the request is signed by a valid
// account, or a key, that may not do this.
func unauthorized(format string, args ...any) *Problem {
	return problem(ProbUnauthorized, http.StatusForbidden, format, args...)
}

// unauthenticated is 401 unauthorized: the account that signed the
// request is not valid (RFC 8555 §7.3.6: deactivated).
func unauthenticated(format string, args ...any) *Problem {
	return problem(ProbUnauthorized, http.StatusUnauthorized, format, args...)
}

func notFound(format string, args ...any) *Problem {
	return problem(ProbMalformed, http.StatusNotFound, format, args...)
}

// rejected is the rejectedIdentifier problem naming name, at the top and
// in a subproblem (RFC 8555 §6.7.1), so a client can tell which one.
func rejected(name, detail string) *Problem {
	id := &Identifier{Type: "dns", Value: name}
	return &Problem{Type: ProbRejectedIdentifier, Status: http.StatusBadRequest, Identifier: id,
		Detail:      fmt.Sprintf("%s: %s", name, detail),
		Subproblems: []Problem{{Type: ProbRejectedIdentifier, Status: http.StatusBadRequest, Identifier: id, Detail: detail}}}
}

// codeTypes maps vetca error codes to the RFC 8555 type that says the
// same; a code not listed is typed by its kind (toProblem). Every refusal
// of the CSR, its subject included, is badCSR, and every refusal of its
// key by the key policy is badPublicKey (RFC 8555 §7.4).
var codeTypes = map[apperr.Code]string{
	apperr.CodeEABUnknownKid:       ProbUnauthorized,
	apperr.CodeEABBadMAC:           ProbUnauthorized,
	apperr.CodeEABKeyRevoked:       ProbUnauthorized,
	apperr.CodeEABKeyBound:         ProbUnauthorized,
	apperr.CodeEABKeyExpired:       ProbUnauthorized,
	apperr.CodeKeyTypeNotAllowed:   ProbBadPublicKey,
	apperr.CodeInvalidKeyType:      ProbBadPublicKey,
	apperr.CodeInvalidKey:          ProbBadPublicKey,
	apperr.CodeUnsupportedKey:      ProbBadPublicKey,
	apperr.CodeWeakKey:             ProbBadPublicKey,
	keypolicy.CodeUnsupportedKey:   ProbBadPublicKey,
	keypolicy.CodeRSATooSmall:      ProbBadPublicKey,
	keypolicy.CodeRSATooLarge:      ProbBadPublicKey,
	keypolicy.CodeRSASizeNotByte:   ProbBadPublicKey,
	keypolicy.CodeRSAExponentEven:  ProbBadPublicKey,
	keypolicy.CodeRSAExponentSmall: ProbBadPublicKey,
	keypolicy.CodeRSAModulusEven:   ProbBadPublicKey,
	keypolicy.CodeRSASmallFactor:   ProbBadPublicKey,
	keypolicy.CodeRSAPrimePower:    ProbBadPublicKey,
	keypolicy.CodeRSAClosePrimes:   ProbBadPublicKey,
	keypolicy.CodeRSAROCA:          ProbBadPublicKey,
	keypolicy.CodeRSADebianWeak:    ProbBadPublicKey,
	keypolicy.CodeECDSACurve:       ProbBadPublicKey,
	keypolicy.CodeECDSAPoint:       ProbBadPublicKey,
	keypolicy.CodeKeyBlocked:       ProbBadPublicKey,
	apperr.CodeInvalidCSR:          ProbBadCSR,
	apperr.CodeInvalidCSRSignature: ProbBadCSR,
	apperr.CodeCSRNameNotRequested: ProbBadCSR,
	apperr.CodeInvalidCommonName:   ProbBadCSR,
	apperr.CodeCommonNameNotInSAN:  ProbBadCSR,
	apperr.CodeSubjectMismatch:     ProbBadCSR,
	apperr.CodeAttributeNotVetted:  ProbBadCSR,
	apperr.CodeAttributeNotAllowed: ProbBadCSR,
	apperr.CodeAttributeCharacter:  ProbBadCSR,
	apperr.CodeAttributeEmpty:      ProbBadCSR,
	apperr.CodeAttributeOrder:      ProbBadCSR,
	apperr.CodeAttributeRepeated:   ProbBadCSR,
	apperr.CodeAttributeTooLong:    ProbBadCSR,
	apperr.CodeAttributeWhitespace: ProbBadCSR,
	apperr.CodeMultiValuedRDN:      ProbBadCSR,
	apperr.CodeCAAForbidden:        ProbCAA,
}

// csrRefusal reports whether p refuses the CSR or its key, which the
// client may correct and finalize again.
func csrRefusal(p *Problem) bool { return p.Type == ProbBadCSR || p.Type == ProbBadPublicKey }

// toProblem turns any error into the problem to answer with. A *Problem
// is itself; a not-covered identifier is rejectedIdentifier naming it; an
// *apperr.Error is typed by its code, else by its kind, and keeps its
// message; anything else is serverInternal, without its text (it is
// logged with the request id instead).
func toProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if name, ok := template.RejectedIdentifier(err); ok {
		e, _ := apperr.As(err)
		return rejected(name, e.Message)
	}
	e, ok := apperr.As(err)
	if !ok {
		return problem(ProbServerInternal, http.StatusInternalServerError, "internal error")
	}
	if typ, ok := codeTypes[e.Code]; ok {
		status := http.StatusBadRequest
		switch typ {
		case ProbUnauthorized, ProbCAA:
			status = http.StatusForbidden
		}
		return problem(typ, status, "%s", e.Message)
	}
	switch e.Kind {
	case apperr.KindInvalid, apperr.KindTooLarge:
		return problem(ProbMalformed, http.StatusBadRequest, "%s", e.Message)
	case apperr.KindNotFound:
		return problem(ProbMalformed, http.StatusNotFound, "%s", e.Message)
	case apperr.KindForbidden, apperr.KindUnauthenticated, apperr.KindConflict:
		return problem(ProbUnauthorized, http.StatusForbidden, "%s", e.Message)
	case apperr.KindTooManyRequests:
		return problem(errNS+"rateLimited", http.StatusTooManyRequests, "%s", e.Message)
	case apperr.KindUnavailable:
		return problem(ProbServerInternal, http.StatusServiceUnavailable, "%s", e.Message)
	}
	// Unprocessable (a lint failure), Integrity (stored data failed its
	// check: fail closed) and anything else.
	return problem(ProbServerInternal, http.StatusInternalServerError, "%s", e.Message)
}
