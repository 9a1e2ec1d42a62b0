package acme

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/dnsname"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/serial"
	"github.com/vetca/vetca/internal/store"
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
// subscriber reasons only, else badRevocationReason). Signed by another
// account, it is accepted if that account holds valid authorizations for
// every name of the certificate (revokeByAuthorizations). Signed by the
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
	// RFC 8555 §7.6: a disallowed reason is badRevocationReason, whoever
	// signs (the key holder's revocation is keyCompromise regardless).
	reason := br.Unspecified
	if in.Reason != nil {
		rs, ok := subscriberReason(*in.Reason)
		if !ok {
			return problem(ProbBadRevocationReason, http.StatusBadRequest,
				"reason %d is not one a subscriber may choose: 0 (unspecified), 1 (keyCompromise), 3 (affiliationChanged), 4 (superseded) or 5 (cessationOfOperation)", *in.Reason)
		}
		reason = rs
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
		return s.revokeByAuthorizations(w, r, acct, x, cert, revoked, prior)
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

// revokeByAuthorizations revokes a certificate for an account that is not
// its subscriber's but holds, for every one of its names, a valid,
// unexpired authorization it did not deactivate (RFC 8555 §7.6). A
// wildcard name needs a wildcard authorization, and the base domain's
// does not cover it (§7.1.3). The authorizations are checked in the
// transaction that revokes. As the requester is not the subscriber, the
// reason is cessationOfOperation whatever it named (as Boulder does: the
// subscriber no longer controls the names, BR §7.2.2), and the key is not
// blocked.
func (s *Service) revokeByAuthorizations(w http.ResponseWriter, r *http.Request, acct *Account, x *x509.Certificate, cert issuance.Certificate, revoked bool, prior revocation.Revocation) error {
	ctx := r.Context()
	sn := cert.Serial
	refuse := func(name string) error {
		return unauthorized("certificate %s was not issued to this account, and the account holds no valid authorization for %s (RFC 8555 §7.6)", sn, name)
	}
	if len(x.DNSNames) == 0 || len(x.IPAddresses)+len(x.EmailAddresses)+len(x.URIs) > 0 {
		return refuse("every identifier of the certificate")
	}
	by := acct.actor()
	now := s.now()
	var rev revocation.Revocation
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var used []string
		for _, n := range x.DNSNames {
			a, ok, err := s.authorizationFor(ctx, tx, acct, n, now)
			if err != nil {
				return err
			}
			if !ok {
				return refuse(n)
			}
			used = append(used, a.ID)
		}
		if revoked {
			return problem(ProbAlreadyRevoked, http.StatusBadRequest, "certificate %s is already revoked (%s)", sn, prior.Reason)
		}
		in := revocation.Input{Reason: br.CessationOfOperation.String(),
			Evidence: fmt.Sprintf("ACME revokeCert by an account holding valid authorizations for every name of the certificate (RFC 8555 §7.6): %s", strings.Join(used, ", "))}
		d, err := revocation.Decide(by, in, now)
		if err != nil {
			return err
		}
		rev, err = s.Revocations.RevokeInTx(ctx, tx, by, cert, d, in)
		return err
	})
	if err != nil {
		return err
	}
	s.Revocations.Published(ctx, rev)
	s.log.Info("acme revocation by an authorized account", "serial", sn, "acmeAccount", acct.ID)
	w.WriteHeader(http.StatusOK)
	return nil
}

// authorizationFor returns a valid, unexpired authorization of acct for
// exactly name that acct did not relinquish, if there is one.
func (s *Service) authorizationFor(ctx context.Context, q store.Querier, acct *Account, name string, now time.Time) (Authorization, bool, error) {
	n, err := dnsname.Normalize(name, true)
	if err != nil {
		return Authorization{}, false, nil
	}
	as, err := s.tab.authorizations.Select(ctx, q, `WHERE t.acme_order_id IN (SELECT o.id FROM acme_orders o WHERE o.acme_account_id = ?)
		AND t.identifier = ? AND t.status = ? ORDER BY t.expires_at DESC, t.id`, acct.ID, n, StatusValid)
	if err != nil {
		return Authorization{}, false, err
	}
	for _, a := range as {
		st, err := s.usableStatus(ctx, q, acct, a, now)
		if err != nil {
			return Authorization{}, false, err
		}
		if st == StatusValid {
			return a, true, nil
		}
	}
	return Authorization{}, false, nil
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
