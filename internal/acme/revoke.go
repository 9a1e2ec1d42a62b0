package acme

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/serial"
)

// revokeRequest is the revokeCert payload (RFC 8555 §7.6).
type revokeRequest struct {
	Certificate string `json:"certificate"`
	Reason      *int   `json:"reason"`
}

// keyHolder is who revokes with the certificate's own key: whoever holds
// it, proven by the signature; not necessarily the subscriber.
func keyHolder(thumb string) actor.Actor {
	return actor.Actor{Kind: actor.Public, ID: "acme-key-holder", Name: "acme-key-holder:" + thumb}
}

// revokeCert is POST /acme/revoke-cert (RFC 8555 §7.6). Signed by an
// account (kid) of the certificate's vetca account, it is the
// subscriber's request with the reason it names (BR §4.9.1.1(1);
// subscriber reasons only, else badRevocationReason). Signed by the
// certificate's key (jwk equal to the certificate's public key), it
// proves that key is in someone's hands: the certificate is revoked with
// keyCompromise, whatever reason is named, and the key is blocked, so no
// order can use it again (BR §4.9.1.1(3), §6.1.1.3(4)). A certificate
// already revoked for that reason is alreadyRevoked.
func (s *Service) revokeCert(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	req, err := s.verify(ctx, r, s.url(pathRevokeCert), byEither)
	if err != nil {
		return err
	}
	var in revokeRequest
	if err := req.decode(&in); err != nil {
		return err
	}
	der, err := base64.RawURLEncoding.DecodeString(in.Certificate)
	if err != nil || len(der) == 0 {
		return malformed("certificate must be a DER certificate, base64url without padding")
	}
	x, err := x509.ParseCertificate(der)
	if err != nil {
		return malformed("the certificate does not parse: %v", err)
	}
	sn := serial.Hex(x.SerialNumber)
	cert, err := s.Certificates.Certificate(ctx, sn)
	if err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return notFound("this server did not issue that certificate")
		}
		return err
	}
	stored, err := cert.X509()
	if err != nil {
		return err
	}
	if !bytes.Equal(stored.Raw, der) {
		return notFound("this server did not issue that certificate")
	}
	prior, revoked, err := s.Revocations.Find(ctx, sn)
	if err != nil {
		return err
	}
	if req.jwk != nil {
		spki, err := x509.MarshalPKIXPublicKey(req.jwk.Key)
		if err != nil || !bytes.Equal(spki, x.RawSubjectPublicKeyInfo) {
			return unauthorized("a revokeCert signed with a jwk must be signed by the certificate's own key")
		}
		if revoked && prior.Reason == br.KeyCompromise.String() {
			return problem(ProbAlreadyRevoked, http.StatusBadRequest, "certificate %s is already revoked for keyCompromise", sn)
		}
		thumb, err := thumbprint(req.jwk)
		if err != nil {
			return err
		}
		evidence := fmt.Sprintf("ACME revokeCert signed by the certificate's own key (RFC 8555 §7.6), JWK thumbprint %s", thumb)
		if _, _, err := s.Revocations.RevokeProvenCompromise(ctx, keyHolder(thumb), sn, evidence); err != nil {
			return err
		}
		s.log.Info("acme revocation by the certificate key", "serial", sn)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	acct := req.account
	if cert.AccountID != acct.AccountID {
		return unauthorized("certificate %s was not issued to this account", sn)
	}
	reason := br.Unspecified
	if in.Reason != nil {
		rs, ok := subscriberReason(*in.Reason)
		if !ok {
			return problem(ProbBadRevocationReason, http.StatusBadRequest,
				"reason %d is not one a subscriber may choose: 0 (unspecified), 1 (keyCompromise), 3 (affiliationChanged), 4 (superseded) or 5 (cessationOfOperation)", *in.Reason)
		}
		reason = rs
	}
	if revoked && (reason != br.KeyCompromise || prior.Reason == br.KeyCompromise.String()) {
		return problem(ProbAlreadyRevoked, http.StatusBadRequest, "certificate %s is already revoked (%s)", sn, prior.Reason)
	}
	if _, _, err := s.Revocations.Revoke(ctx, acct.actor(), sn, revocation.Input{Reason: reason.String()}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// subscriberReason is the BR §7.2.2 reason a subscriber may choose with
// this RFC 5280 reasonCode.
func subscriberReason(code int) (br.Reason, bool) {
	for _, r := range br.SubscriberReasons() {
		if r.Code() == code {
			return r, true
		}
	}
	return 0, false
}
