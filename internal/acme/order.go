package acme

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/dnsname"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/template"
)

// Order, authorization and challenge statuses (RFC 8555 §7.1.6).
const (
	StatusPending    = "pending"
	StatusReady      = "ready"
	StatusProcessing = "processing"
	StatusInvalid    = "invalid"
	StatusExpired    = "expired"
)

// Order is an ACME order (table acme_orders).
type Order struct {
	ID               string    `db:"id" json:"id"`
	ACMEAccountID    string    `db:"acme_account_id" json:"acmeAccountId"`
	AccountID        string    `db:"account_id" json:"accountId"`
	TemplateID       string    `db:"template_id" json:"templateId"`
	Identifiers      []string  `db:"identifiers,json" json:"identifiers"`
	AuthorizationIDs []string  `db:"authorization_ids,json" json:"authorizationIds"`
	ValidityDays     int       `db:"validity_days" json:"validityDays"`
	Status           string    `db:"status" json:"status"`
	ExpiresAt        time.Time `db:"expires_at" json:"expiresAt"`
	OrderID          string    `db:"order_id" json:"orderId,omitempty"` // the vetca order, once finalized
	Serial           string    `db:"serial" json:"serial,omitempty"`
	Error            string    `db:"error" json:"-"` // a Problem as JSON, for an invalid order
	Replaces         string    `db:"replaces" json:"replaces,omitempty"`
	CreatedAt        time.Time `db:"created_at" json:"createdAt"`
	UpdatedAt        time.Time `db:"updated_at" json:"updatedAt"`
}

// StatusAt is the status shown at now: an order not finished by its
// expiry is invalid (RFC 8555 §7.1.6).
func (o Order) StatusAt(now time.Time) string {
	switch o.Status {
	case StatusPending, StatusReady:
		if !now.Before(o.ExpiresAt) {
			return StatusInvalid
		}
	}
	return o.Status
}

// Authorization is an ACME authorization (table acme_authorizations).
type Authorization struct {
	ID            string    `db:"id" json:"id"`
	ACMEOrderID   string    `db:"acme_order_id" json:"acmeOrderId"`
	ACMEAccountID string    `db:"acme_account_id" json:"acmeAccountId"`
	AccountID     string    `db:"account_id" json:"accountId"`
	Identifier    string    `db:"identifier" json:"identifier"` // "*." kept for a wildcard
	Status        string    `db:"status" json:"status"`
	ExpiresAt     time.Time `db:"expires_at" json:"expiresAt"`
	ValidationID  string    `db:"validation_id" json:"validationId,omitempty"`
	CreatedAt     time.Time `db:"created_at" json:"createdAt"`
	UpdatedAt     time.Time `db:"updated_at" json:"updatedAt"`
}

// StatusAt is the status shown at now.
func (a Authorization) StatusAt(now time.Time) string {
	if (a.Status == StatusPending || a.Status == StatusValid) && !now.Before(a.ExpiresAt) {
		return StatusExpired
	}
	return a.Status
}

// Challenge is an ACME challenge (table acme_challenges).
type Challenge struct {
	ID              string     `db:"id" json:"id"`
	AuthorizationID string     `db:"authorization_id" json:"authorizationId"`
	ACMEAccountID   string     `db:"acme_account_id" json:"acmeAccountId"`
	Type            string     `db:"type" json:"type"`
	Token           string     `db:"token" json:"token"`
	Status          string     `db:"status" json:"status"`
	ValidationID    string     `db:"validation_id" json:"validationId,omitempty"`
	ValidatedAt     *time.Time `db:"validated_at" json:"validatedAt,omitempty"`
	Error           string     `db:"error" json:"-"`
	CreatedAt       time.Time  `db:"created_at" json:"createdAt"`
	UpdatedAt       time.Time  `db:"updated_at" json:"updatedAt"`
}

// The challenge types offered (RFC 8555 §8.3, §8.4).
const (
	challengeHTTP01 = "http-01"
	challengeDNS01  = "dns-01"
)

// maxIdentifiers bounds the names of one order, as of one certificate.
const maxIdentifiers = order.MaxDNSNames

// newOrderRequest is the newOrder payload (RFC 8555 §7.4, RFC 9773 §5).
type newOrderRequest struct {
	Identifiers []Identifier `json:"identifiers"`
	NotBefore   string       `json:"notBefore"`
	NotAfter    string       `json:"notAfter"`
	Replaces    string       `json:"replaces"`
}

// orderNames checks and normalizes the identifiers: dns only, valid
// names, no repeats, in the order asked.
func orderNames(ids []Identifier) ([]string, error) {
	if len(ids) == 0 {
		return nil, malformed("an order needs at least one identifier")
	}
	if len(ids) > maxIdentifiers {
		return nil, rejected(ids[maxIdentifiers].Value, "at most 100 identifiers per order")
	}
	var out []string
	for _, id := range ids {
		if id.Type != "dns" {
			p := problem(ProbUnsupportedIdentifier, http.StatusBadRequest, "identifier type %q is not supported; only dns", id.Type)
			p.Identifier = &Identifier{Type: id.Type, Value: id.Value}
			return nil, p
		}
		n, err := dnsname.Normalize(id.Value, true)
		if err != nil {
			msg := err.Error()
			if e, ok := apperr.As(err); ok {
				msg = e.Message
			}
			return nil, rejected(id.Value, msg)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// orderDays is the validity an order asks for: from notAfter, or, when it
// names none, the longest the template and BR §6.3.2 allow.
func (s *Service) orderDays(in newOrderRequest, now time.Time) (int, bool, error) {
	if in.NotBefore != "" {
		return 0, false, malformed("notBefore is not supported: certificates are valid from when they are issued")
	}
	if in.NotAfter == "" {
		return 0, false, nil
	}
	na, err := time.Parse(time.RFC3339, in.NotAfter)
	if err != nil {
		return 0, false, malformed("notAfter %q is not an RFC 3339 time", in.NotAfter)
	}
	days := int((na.Sub(now) + 24*time.Hour - time.Second) / (24 * time.Hour))
	if days < 1 {
		return 0, false, malformed("notAfter %s is not in the future", in.NotAfter)
	}
	return days, true, nil
}

// newOrder is POST /acme/new-order (RFC 8555 §7.4). The names must all be
// covered by an approved template of the account, with the validity
// asked: else rejectedIdentifier naming the first name not covered, or
// unauthorized for the validity. Each name gets an authorization: valid
// at once when the account has a reusable validation covering it (BR
// §4.2.1), else pending with an http-01 (not for a wildcard) and a dns-01
// challenge, each with its own token.
func (s *Service) newOrder(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	req, err := s.verify(ctx, r, s.url(pathNewOrder), byKID)
	if err != nil {
		return err
	}
	var in newOrderRequest
	if err := req.decode(&in); err != nil {
		return err
	}
	acct := req.account
	names, err := orderNames(in.Identifiers)
	if err != nil {
		return err
	}
	now := s.now()
	days, asked, err := s.orderDays(in, now)
	if err != nil {
		return err
	}
	probe := days
	if !asked {
		probe = 1
	}
	t, err := s.Templates.Match(ctx, acct.AccountID, names, "", probe)
	if err != nil {
		return templateProblem(err)
	}
	if !asked {
		days = min(t.MaxValidityDays, br.RecommendedMaxValidity(now))
	}
	if in.Replaces != "" {
		if err := s.checkReplaces(ctx, acct, in.Replaces, names); err != nil {
			return err
		}
	}
	o := Order{ID: ids.New("acmeord"), ACMEAccountID: acct.ID, AccountID: acct.AccountID, TemplateID: t.ID, Identifiers: names,
		ValidityDays: days, Status: StatusPending, ExpiresAt: now.Add(s.cfg.OrderLifetime), Replaces: in.Replaces, CreatedAt: now, UpdatedAt: now}
	by := acct.actor()
	var authzs []Authorization
	var challs [][]Challenge
	// Tokens are made before the transaction, which may be retried.
	for _, n := range names {
		var cs []Challenge
		types := []string{challengeHTTP01, challengeDNS01}
		if dnsname.IsWildcard(n) {
			types = types[1:]
		}
		for _, typ := range types {
			tok, err := newToken()
			if err != nil {
				return err
			}
			cs = append(cs, Challenge{ID: ids.New("acmechl"), ACMEAccountID: acct.ID, Type: typ, Token: tok, Status: StatusPending, Error: "", CreatedAt: now, UpdatedAt: now})
		}
		challs = append(challs, cs)
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		authzs = authzs[:0]
		o.AuthorizationIDs = nil
		allValid := true
		for _, n := range names {
			a := Authorization{ID: ids.New("acmeauthz"), ACMEOrderID: o.ID, ACMEAccountID: acct.ID, AccountID: acct.AccountID, Identifier: n,
				Status: StatusPending, ExpiresAt: o.ExpiresAt, CreatedAt: now, UpdatedAt: now}
			v, ok, err := s.Domains.ReusableFor(ctx, tx, acct.AccountID, n, now)
			if err != nil {
				return err
			}
			if ok {
				// An authorization the account deactivated is not used
				// again (RFC 8555 §7.5.2): the name is validated anew.
				if ok, err = s.relinquished(ctx, tx, acct.ID, n, v.ID); err != nil {
					return err
				}
				ok = !ok
			}
			if ok {
				a.Status, a.ValidationID = StatusValid, v.ID
				if v.ValidatedAt != nil {
					a.ExpiresAt = br.DomainValidationReusableUntil(*v.ValidatedAt)
				}
			} else {
				allValid = false
			}
			authzs = append(authzs, a)
			o.AuthorizationIDs = append(o.AuthorizationIDs, a.ID)
		}
		if allValid {
			o.Status = StatusReady
		}
		if err := s.tab.orders.Insert(ctx, tx, by, actOrderCreated, o); err != nil {
			return err
		}
		for i, a := range authzs {
			if err := s.tab.authorizations.Insert(ctx, tx, by, actAuthorizationCreated, a); err != nil {
				return err
			}
			if a.Status != StatusPending {
				continue
			}
			for _, c := range challs[i] {
				c.AuthorizationID = a.ID
				if err := s.tab.challenges.Insert(ctx, tx, by, actChallengeCreated, c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.url(pathOrder)+o.ID)
	return s.writeJSON(w, r, http.StatusCreated, s.orderView(o, now))
}

// templateProblem turns a template refusal into its ACME problem: a name
// not covered is rejectedIdentifier naming it, a key type badPublicKey,
// and the rest (a validity beyond the template's, a template waiting for
// approval) unauthorized.
func templateProblem(err error) error {
	if name, ok := template.RejectedIdentifier(err); ok {
		e, _ := apperr.As(err)
		return rejected(name, e.Message)
	}
	e, ok := apperr.As(err)
	if !ok {
		return err
	}
	switch e.Code {
	case apperr.CodeKeyTypeNotAllowed:
		return problem(ProbBadPublicKey, http.StatusBadRequest, "%s", e.Message)
	case apperr.CodeValidityNotAllowed, apperr.CodeTemplateMismatch, apperr.CodeTemplateNotApproved:
		return unauthorized("%s", e.Message)
	}
	return err
}

// newToken returns a challenge token: 256 random bits, base64url (RFC
// 8555 §8.1 asks for at least 128).
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// orderView is the RFC 8555 §7.1.3 order object.
type orderView struct {
	Status         string       `json:"status"`
	Expires        string       `json:"expires"`
	Identifiers    []Identifier `json:"identifiers"`
	Authorizations []string     `json:"authorizations"`
	Finalize       string       `json:"finalize"`
	Certificate    string       `json:"certificate,omitempty"`
	Error          *Problem     `json:"error,omitempty"`
	Replaces       string       `json:"replaces,omitempty"`
}

func (s *Service) orderView(o Order, now time.Time) orderView {
	v := orderView{Status: o.StatusAt(now), Expires: o.ExpiresAt.UTC().Format(time.RFC3339), Finalize: s.url(pathOrder) + o.ID + "/finalize", Replaces: o.Replaces}
	for _, n := range o.Identifiers {
		v.Identifiers = append(v.Identifiers, Identifier{Type: "dns", Value: n})
	}
	for _, id := range o.AuthorizationIDs {
		v.Authorizations = append(v.Authorizations, s.url(pathAuthz)+id)
	}
	if o.Status == StatusValid {
		v.Certificate = s.url(pathCert) + o.ID
	}
	if o.Error != "" {
		var p Problem
		if json.Unmarshal([]byte(o.Error), &p) == nil {
			v.Error = &p
		}
	}
	return v
}

// loadOrder reads an order of acct (integrity-checked); another account's
// order is not found.
func (s *Service) loadOrder(ctx context.Context, q store.Querier, acct *Account, id string) (Order, error) {
	var o Order
	if err := s.tab.orders.Get(ctx, q, id, &o); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return Order{}, notFound("no order %s", id)
		}
		return Order{}, err
	}
	if o.ACMEAccountID != acct.ID {
		return Order{}, notFound("no order %s", id)
	}
	return o, nil
}

// getOrder is POST-as-GET /acme/order/{id}.
func (s *Service) getOrder(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	req, err := s.verify(r.Context(), r, s.url(pathOrder)+id, byKID)
	if err != nil {
		return err
	}
	if !req.postAsGet() {
		return malformed("fetch an order with POST-as-GET (an empty payload)")
	}
	o, err := s.loadOrder(r.Context(), s.db, req.account, id)
	if err != nil {
		return err
	}
	return s.writeJSON(w, r, http.StatusOK, s.orderView(o, s.now()))
}

// accountOrders is POST-as-GET /acme/acct/{id}/orders (RFC 8555 §7.1.2.1):
// the account's newest orders that are not invalid.
func (s *Service) accountOrders(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	req, err := s.verify(r.Context(), r, s.url(pathAccount)+id+"/orders", byKID)
	if err != nil {
		return err
	}
	if req.account.ID != id {
		return unauthorized("the request is signed by account %s, not %s", req.account.ID, id)
	}
	if !req.postAsGet() {
		return malformed("fetch the orders list with POST-as-GET (an empty payload)")
	}
	// RFC 8555 §7.1.2.1: invalid orders (expired ones included) are not
	// listed.
	os, err := s.tab.orders.Select(r.Context(), s.db, `WHERE acme_account_id = ? AND status <> ? ORDER BY created_at DESC, id DESC LIMIT 1000`, id, StatusInvalid)
	if err != nil {
		return err
	}
	now := s.now()
	urls := []string{}
	for _, o := range os {
		if o.StatusAt(now) != StatusInvalid {
			urls = append(urls, s.url(pathOrder)+o.ID)
		}
	}
	return s.writeJSON(w, r, http.StatusOK, map[string]any{"orders": urls})
}

// finalizeRequest is the finalize payload (RFC 8555 §7.4).
type finalizeRequest struct {
	CSR string `json:"csr"`
}

// parseOrderCSR parses a finalize CSR and checks it asks for exactly the
// order's names (RFC 8555 §7.4: badCSR otherwise).
func parseOrderCSR(b64 string, names []string) (*x509.CertificateRequest, error) {
	der, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(der) == 0 {
		return nil, problem(ProbBadCSR, http.StatusBadRequest, "csr must be a DER CSR, base64url without padding")
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, problem(ProbBadCSR, http.StatusBadRequest, "the CSR does not parse: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, problem(ProbBadCSR, http.StatusBadRequest, "the CSR's signature does not verify: %v", err)
	}
	asked := map[string]bool{}
	for _, n := range csr.DNSNames {
		asked[strings.ToLower(strings.TrimSuffix(n, "."))] = true
	}
	if cn := csr.Subject.CommonName; cn != "" {
		asked[strings.ToLower(strings.TrimSuffix(cn, "."))] = true
	}
	if len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) > 0 {
		return nil, problem(ProbBadCSR, http.StatusBadRequest, "the CSR may name DNS names only")
	}
	for _, n := range names {
		if !asked[n] {
			return nil, problem(ProbBadCSR, http.StatusBadRequest, "the CSR does not name %s, which the order is for", n)
		}
		delete(asked, n)
	}
	for n := range asked {
		return nil, problem(ProbBadCSR, http.StatusBadRequest, "the CSR names %s, which the order is not for", n)
	}
	return csr, nil
}

// IsAccountKey reports whether pub is the key of an ACME account (for the
// portal's orders, which refuse it as finalize does).
func (s *Service) IsAccountKey(ctx context.Context, q store.Querier, pub crypto.PublicKey) (bool, error) {
	thumb, err := thumbprint(&jose.JSONWebKey{Key: pub})
	if err != nil {
		return false, nil // no JWK form: no account can have it
	}
	_, ok, err := s.accountByThumbprint(ctx, q, thumb)
	return ok, err
}

// AccountUsable refuses ACME account id when it may no longer act (it
// was deactivated, RFC 8555 §7.3.6; its EAB key revoked, its key blocked
// or below policy), read in q: the order service asks it as an ACME
// finalize's certificate is stored, so that a cut-off committed while it
// was signed stops the certificate.
func (s *Service) AccountUsable(ctx context.Context, q store.Querier, id string) error {
	a, err := s.loadAccount(ctx, q, id)
	if err == nil && a.Status != StatusValid {
		err = unauthenticated("account %s is %s", a.ID, a.Status)
	} else if err == nil {
		_, err = s.accountUsable(ctx, a)
	}
	var p *Problem
	if errors.As(err, &p) {
		// A refusal of the account's own requests; to the order service,
		// the state forbids the issuance.
		return apperr.Conflict(apperr.CodeOrderChanged, apperr.NoField, "%s", p.Detail)
	}
	return err
}

// checkCSRKey checks the key a finalize CSR asks to have certified and
// returns its template key type. It must not be an ACME account's key:
// RFC 8555 §11.1 has the server verify that it is not the key of the
// account that signed the finalize, and vetca refuses every account's, so
// that a certificate key served by a TLS server never authenticates an
// account. That refusal is badCSR (the CSR is unacceptable, §6.7; the key
// itself may be fine), with the detail Boulder gives. Then the key policy
// and the blocklist of compromised keys (BR §6.1.1.3), each badPublicKey.
func (s *Service) checkCSRKey(ctx context.Context, acct *Account, pub crypto.PublicKey) (string, error) {
	keyType, err := template.KeyTypeOf(pub)
	if err != nil {
		return "", problem(ProbBadPublicKey, http.StatusBadRequest, "%s", err.(*apperr.Error).Message)
	}
	thumb, err := thumbprint(&jose.JSONWebKey{Key: pub})
	if err != nil {
		return "", problem(ProbBadCSR, http.StatusBadRequest, "the CSR's key has no JWK thumbprint: %v", err)
	}
	if thumb == acct.Thumbprint {
		return "", problem(ProbBadCSR, http.StatusBadRequest,
			"certificate public key must be different than account key: the CSR asks to certify the key of account %s, which signed this request (RFC 8555 §11.1); use a new key for the certificate", acct.ID)
	}
	if _, ok, err := s.accountByThumbprint(ctx, s.db, thumb); err != nil {
		return "", err
	} else if ok {
		return "", problem(ProbBadCSR, http.StatusBadRequest,
			"certificate public key must be different than account key: the CSR's key is another ACME account's key (RFC 8555 §11.1); use a new key for the certificate")
	}
	if err := s.Keys.Check(ctx, pub); err != nil {
		return "", err
	}
	spki, err := keypolicy.SPKIHashHex(pub)
	if err != nil {
		return "", problem(ProbBadPublicKey, http.StatusBadRequest, "%v", err)
	}
	if blocked, err := s.Keys.Blocked(ctx, s.db, spki); err != nil {
		return "", err
	} else if blocked {
		return "", problem(ProbBadPublicKey, http.StatusBadRequest,
			"this key was reported compromised and may not be certified (BR §6.1.1.3(4)); SPKI SHA-256 %s", spki)
	}
	return keyType, nil
}

// finalize is POST /acme/order/{id}/finalize (RFC 8555 §7.4). After the
// CSR, its key (not an account key, policy, blocklist: checkCSRKey) and
// the template with the key type are checked, and, under the order's lock, every authorization of the order
// is found still valid, the order becomes processing; a vetca order is
// placed under the template and finalized through the whole issuance
// pipeline; the order becomes valid with its certificate, or invalid with
// the problem. A refused CSR or key (badCSR, badPublicKey), the subject
// included, leaves the order ready for a corrected CSR.
func (s *Service) finalize(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	req, err := s.verify(ctx, r, s.url(pathOrder)+id+"/finalize", byKID)
	if err != nil {
		return err
	}
	var in finalizeRequest
	if err := req.decode(&in); err != nil {
		return err
	}
	acct := req.account
	o, err := s.loadOrder(ctx, s.db, acct, id)
	if err != nil {
		return err
	}
	now := s.now()
	if st := o.StatusAt(now); st != StatusReady {
		return problem(ProbOrderNotReady, http.StatusForbidden, "order %s is %s, not ready", o.ID, st)
	}
	csr, err := parseOrderCSR(in.CSR, o.Identifiers)
	if err != nil {
		return err
	}
	keyType, err := s.checkCSRKey(ctx, acct, csr.PublicKey)
	if err != nil {
		return err
	}
	t, err := s.Templates.Match(ctx, acct.AccountID, o.Identifiers, keyType, o.ValidityDays)
	if err != nil {
		return templateProblem(err)
	}
	by := acct.actor()
	// Ready to processing, once: a concurrent finalize sees processing.
	var notReady *Problem
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		notReady = nil
		var cur Order
		if err := s.tab.orders.Lock(ctx, tx, o.ID, &cur); err != nil {
			return err
		}
		if st := cur.StatusAt(now); st != StatusReady {
			return problem(ProbOrderNotReady, http.StatusForbidden, "order %s is %s, not ready", cur.ID, st)
		}
		// Every authorization must still be valid, under the order's lock:
		// a deactivation takes it too, so none commits between this check
		// and issuance (RFC 8555 §7.1.6, §7.5.2).
		if bad, err := s.unusableAuthorization(ctx, tx, acct, cur, now); err != nil {
			return err
		} else if bad != nil {
			if err := s.invalidate(ctx, tx, acct, cur, *bad); err != nil {
				return err
			}
			notReady = problem(ProbOrderNotReady, http.StatusForbidden, "order %s is invalid: authorization for %s is %s", cur.ID, bad.Identifier, bad.Status)
			return nil
		}
		if cur.Replaces != "" {
			if err := lockReplaced(ctx, tx, cur.Replaces); err != nil {
				return err
			}
			if err := s.notReplaced(ctx, tx, cur.Replaces, cur.ID); err != nil {
				return err
			}
		}
		cur.Status, cur.TemplateID, cur.UpdatedAt = StatusProcessing, t.ID, now
		if err := s.tab.orders.Update(ctx, tx, by, actOrderProcessing, cur); err != nil {
			return err
		}
		o = cur
		return nil
	})
	if err != nil {
		return err
	}
	if notReady != nil {
		return notReady
	}
	csrPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw}))
	days := o.ValidityDays
	placed, err := s.Orders.PlaceUnderTemplate(ctx, by, order.CreateInput{AccountID: acct.AccountID, OrganizationID: t.OrganizationID,
		DNSNames: o.Identifiers, CSR: csrPEM, ValidityDays: &days}, t.ID, t.TemplateHash)
	if err != nil {
		if p := toProblem(err); csrRefusal(p) {
			// Nothing was placed: the order is ready again for a
			// corrected CSR, as for a CSR with the wrong names.
			return s.release(ctx, o.ID, p)
		}
		return s.fail(ctx, o.ID, "", err)
	}
	issued, err := s.Orders.Finalize(ctx, by, placed.ID)
	if err != nil {
		return s.fail(ctx, o.ID, placed.ID, err)
	}
	if o, err = s.markValid(ctx, o.ID, placed.ID, issued.Serial, by); err != nil {
		return err
	}
	s.log.Info("acme certificate issued", "acmeOrder", o.ID, "order", placed.ID, "serial", issued.Serial, "template", t.ID)
	w.Header().Set("Location", s.url(pathOrder)+o.ID)
	return s.writeJSON(w, r, http.StatusOK, s.orderView(o, s.now()))
}

// markValid records the certificate issued for order id: the order is
// valid with the vetca order and serial. It runs even if the request was
// cancelled: the certificate is stored whatever the client does, and an
// order left processing would never show it, nor let its authorizations
// be deactivated or its replaced certificate be replaced again.
func (s *Service) markValid(ctx context.Context, id, vetcaOrderID, serial string, by actor.Actor) (Order, error) {
	ctx = context.WithoutCancel(ctx)
	var o Order
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var cur Order
		if err := s.tab.orders.Lock(ctx, tx, id, &cur); err != nil {
			return err
		}
		cur.Status, cur.OrderID, cur.Serial, cur.UpdatedAt = StatusValid, vetcaOrderID, serial, s.now()
		if err := s.tab.orders.Update(ctx, tx, by, actOrderValid, cur); err != nil {
			return err
		}
		o = cur
		return nil
	})
	if err != nil {
		return Order{}, fmt.Errorf("acme: record order %s valid with certificate %s: %w", id, serial, err)
	}
	return o, nil
}

// fail marks a processing order invalid with the problem err is, and
// returns that problem. It runs even if the request was cancelled.
func (s *Service) fail(ctx context.Context, id, vetcaOrderID string, cause error) error {
	p := toProblem(cause)
	if p.Status >= 500 {
		s.log.Error("acme finalize failed", "acmeOrder", id, "order", vetcaOrderID, "err", cause)
	}
	b, _ := json.Marshal(p)
	err := s.leaveProcessing(ctx, id, actOrderInvalid, func(cur *Order) {
		cur.Status, cur.OrderID, cur.Error = StatusInvalid, vetcaOrderID, string(b)
	})
	if err != nil {
		s.log.Error("acme order failure not recorded", "acmeOrder", id, "err", err)
	}
	return p
}

// release puts a processing order back to ready after its CSR was refused
// before a vetca order was placed (the subject, checked against the
// verified organization by order.PlaceUnderTemplate), and returns that
// refusal. It runs even if the request was cancelled.
func (s *Service) release(ctx context.Context, id string, refusal *Problem) error {
	err := s.leaveProcessing(ctx, id, actOrderReady, func(cur *Order) { cur.Status = StatusReady })
	if err != nil {
		s.log.Error("acme order not made ready again", "acmeOrder", id, "err", err)
	}
	return refusal
}

// leaveProcessing moves order id out of processing with set, under its
// lock, recorded as action by its account; an order no longer processing
// is left alone. It runs even if ctx was cancelled: the order must not
// stay processing because the client went away.
func (s *Service) leaveProcessing(ctx context.Context, id string, action audit.Action, set func(*Order)) error {
	ctx = context.WithoutCancel(ctx)
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		var cur Order
		if err := s.tab.orders.Lock(ctx, tx, id, &cur); err != nil {
			return err
		}
		if cur.Status != StatusProcessing {
			return nil
		}
		acct, err := s.loadAccount(ctx, tx, cur.ACMEAccountID)
		if err != nil {
			return err
		}
		set(&cur)
		cur.UpdatedAt = s.now()
		return s.tab.orders.Update(ctx, tx, acct.actor(), action, cur)
	})
}

// unusableAuthorization returns the first authorization of o that no
// longer authorizes its identifier at now (usableStatus), with that
// status; nil when all are usable.
func (s *Service) unusableAuthorization(ctx context.Context, q store.Querier, acct *Account, o Order, now time.Time) (*Authorization, error) {
	for _, id := range o.AuthorizationIDs {
		var a Authorization
		if err := s.tab.authorizations.Get(ctx, q, id, &a); err != nil {
			return nil, err
		}
		st, err := s.usableStatus(ctx, q, acct, a, now)
		if err != nil {
			return nil, err
		}
		if st != StatusValid {
			a.Status = st
			return &a, nil
		}
	}
	return nil, nil
}

// usableStatus is a's status at now for what it authorizes: its own
// (expired once past its expiry), or deactivated when it rests on a
// validation acct relinquished by deactivating an authorization (RFC 8555
// §7.5.2). Only StatusValid authorizes its identifier.
func (s *Service) usableStatus(ctx context.Context, q store.Querier, acct *Account, a Authorization, now time.Time) (string, error) {
	if st := a.StatusAt(now); st != StatusValid {
		return st, nil
	}
	gone, err := s.relinquished(ctx, q, acct.ID, a.Identifier, a.ValidationID)
	if err != nil || !gone {
		return StatusValid, err
	}
	return StatusDeactivated, nil
}

// certificate is POST-as-GET /acme/cert/{id}: the certificate of a valid
// order and its issuer, as application/pem-certificate-chain (RFC 8555
// §7.4.2).
func (s *Service) certificate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	req, err := s.verify(ctx, r, s.url(pathCert)+id, byKID)
	if err != nil {
		return err
	}
	if !req.postAsGet() {
		return malformed("fetch a certificate with POST-as-GET (an empty payload)")
	}
	o, err := s.loadOrder(ctx, s.db, req.account, id)
	if err != nil {
		return err
	}
	if o.Status != StatusValid || o.Serial == "" {
		return notFound("order %s has no certificate", id)
	}
	cert, err := s.Certificates.Certificate(ctx, o.Serial)
	if err != nil {
		return err
	}
	iss, err := s.Certificates.PublishedIssuer(ctx, cert.IssuerID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pem-certificate-chain")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write([]byte(strings.TrimSpace(cert.PEM) + "\n" + strings.TrimSpace(iss.CertPEM) + "\n"))
	return err
}
