package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/store"
)

// Account statuses (RFC 8555 §7.1.2).
const (
	StatusValid       = "valid"
	StatusDeactivated = "deactivated"
	StatusRevoked     = "revoked"
)

// Account is an ACME account (table acme_accounts): a key, bound once by
// an EAB key to one vetca account.
type Account struct {
	ID         string    `db:"id" json:"id"`
	AccountID  string    `db:"account_id" json:"accountId"`
	EABKID     string    `db:"eab_kid" json:"eabKid"`
	JWK        string    `db:"jwk" json:"-"`
	Thumbprint string    `db:"jwk_thumbprint" json:"jwkThumbprint"`
	Contact    []string  `db:"contact,json" json:"contact"`
	Status     string    `db:"status" json:"status"`
	CreatedAt  time.Time `db:"created_at" json:"createdAt"`
	UpdatedAt  time.Time `db:"updated_at" json:"updatedAt"`

	key *jose.JSONWebKey
}

// actor is who acts when this account signs a request: a subscriber of
// its vetca account, through it.
func (a *Account) actor() actor.Actor { return actor.ACMEActor(a.AccountID, a.ID) }

// maxContacts bounds an account's contact URLs.
const maxContacts = 10

// checkContacts accepts mailto: URLs with one plain address each
// (RFC 8555 §7.3: the server may refuse other schemes).
func checkContacts(cs []string) ([]string, error) {
	if len(cs) > maxContacts {
		return nil, problem(ProbUnsupportedContact, http.StatusBadRequest, "at most %d contacts", maxContacts)
	}
	out := []string{}
	for _, c := range cs {
		addr, ok := strings.CutPrefix(c, "mailto:")
		if !ok {
			return nil, problem(ProbUnsupportedContact, http.StatusBadRequest, "contact %q: only mailto: URLs are supported", c)
		}
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Address != addr || strings.ContainsAny(addr, ",?") {
			return nil, problem(errNS+"invalidContact", http.StatusBadRequest, "contact %q is not a mailto: URL with one email address", c)
		}
		out = append(out, c)
	}
	return out, nil
}

// accountByKID loads the account a kid names (integrity-checked), whatever
// its status: that only a valid account may sign requests is checked by
// verify once the signature verified.
func (s *Service) accountByKID(ctx context.Context, kid string) (*Account, error) {
	id, ok := strings.CutPrefix(kid, s.url(pathAccount))
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, problem(ProbAccountDoesNotExist, http.StatusBadRequest, "kid %q is not an account URL of this server", kid)
	}
	return s.loadAccount(ctx, s.db, id)
}

// accountUsable refuses a request from account a, valid and with its
// signature verified, when a may no longer act: its key was blocked as
// compromised or fails the key policy (accountKeyRefusal), or the EAB key
// that bound it was revoked (bindingUsable). Each is 401 unauthorized,
// like a deactivated account (RFC 8555 §7.3.6). blocked says the refusal
// is the blocklist: a request then is worth a warning.
func (s *Service) accountUsable(ctx context.Context, a *Account) (blocked bool, err error) {
	why, blocked, err := s.accountKeyRefusal(ctx, a.key.Key)
	if err != nil {
		return false, err
	}
	if why != "" {
		return blocked, unauthenticated("account %s may not act: %s; register a new account with a new key", a.ID, why)
	}
	return false, s.bindingUsable(ctx, a)
}

// bindingUsable refuses account a when the EAB key that bound it was
// revoked: an ACME account exists only through its EAB key (docs/design.md
// §15), so revoking a bound key cuts off the account it bound. The key is
// read integrity-checked; one that names another account is tampering.
func (s *Service) bindingUsable(ctx context.Context, a *Account) error {
	k, err := s.EAB.Binding(ctx, s.db, a.EABKID)
	if err != nil {
		return err
	}
	if k.BoundACMEAccountID != a.ID {
		return apperr.Integrity("eab_keys", k.ID, "EAB key %s bound ACME account %q, not %s, which names it as its binding", k.ID, k.BoundACMEAccountID, a.ID)
	}
	if k.RevokedAt != nil {
		return unauthenticated("account %s may not act: the EAB key %s that bound it was revoked at %s, and revoking a bound EAB key cuts off the ACME account it bound; ask the CA for a new EAB key and register a new account with a new key",
			a.ID, k.ID, k.RevokedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// accountKeyRefusal applies to an account key what applies to a
// certificate key (docs/design.md §15), and says why it is refused ("" if
// it is not) and whether the reason is the blocklist. A key on the
// blocklist of compromised keys is in someone else's hands and
// authenticates nobody (BR §4.9.1.1(3), §6.1.1.3(4)). RSA and ECDSA
// P-256/P-384 keys must pass the key policy: size, parameters, close
// primes, ROCA, Debian weak keys (BR §6.1.5, §6.1.6, §6.1.1.3(5)).
// Ed25519 and P-521 keys, which RFC 8555 §6.2 allows for accounts though
// the BR do not for certificates, have no such classes of weak keys and
// get the blocklist only.
func (s *Service) accountKeyRefusal(ctx context.Context, pub crypto.PublicKey) (string, bool, error) {
	spki, err := keypolicy.SPKIHashHex(pub)
	if err != nil {
		return "", false, malformed("the account key has no SubjectPublicKeyInfo: %v", err)
	}
	blockedWhy := "the account key is on the compromised-key blocklist: it was reported compromised, so it authenticates nobody (BR §4.9.1.1(3), §6.1.1.3(4)); SPKI SHA-256 " + spki
	if blocked, err := s.Keys.Blocked(ctx, s.db, spki); err != nil {
		return "", false, err
	} else if blocked {
		return blockedWhy, true, nil
	}
	if !keyPolicyApplies(pub) {
		return "", false, nil
	}
	err = s.Keys.Check(ctx, pub)
	e, ok := apperr.As(err)
	switch {
	case err == nil:
		return "", false, nil
	case !ok || e.Kind != apperr.KindInvalid:
		return "", false, err
	case e.Code == keypolicy.CodeKeyBlocked:
		return blockedWhy, true, nil
	}
	return fmt.Sprintf("the account key fails the key policy for certificate keys (%s): %s", e.Code, e.Message), false, nil
}

// keyPolicyApplies reports whether the key policy judges keys of pub's
// type: RSA, and ECDSA on the curves it allows.
func keyPolicyApplies(pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return true
	case *ecdsa.PublicKey:
		return k.Curve == elliptic.P256() || k.Curve == elliptic.P384()
	}
	return false
}

func (s *Service) loadAccount(ctx context.Context, q store.Querier, id string) (*Account, error) {
	var a Account
	if err := s.tab.accounts.Get(ctx, q, id, &a); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return nil, problem(ProbAccountDoesNotExist, http.StatusBadRequest, "no account %s", id)
		}
		return nil, err
	}
	return withKey(a)
}

// withKey parses an account row's stored key.
func withKey(a Account) (*Account, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(a.JWK)); err != nil {
		return nil, apperr.Integrity("acme_accounts", a.ID, "the stored key does not parse: %v", err)
	}
	a.key = &k
	return &a, nil
}

// accountByThumbprint finds the account of a key, if any.
func (s *Service) accountByThumbprint(ctx context.Context, q store.Querier, thumb string) (*Account, bool, error) {
	a, ok, err := s.tab.accounts.First(ctx, q, `WHERE jwk_thumbprint = ?`, thumb)
	if err != nil || !ok {
		return nil, false, err
	}
	full, err := withKey(a)
	return full, err == nil, err
}

// newAccountRequest is the newAccount payload (RFC 8555 §7.3).
type newAccountRequest struct {
	Contact                []string        `json:"contact"`
	TermsOfServiceAgreed   bool            `json:"termsOfServiceAgreed"`
	OnlyReturnExisting     bool            `json:"onlyReturnExisting"`
	ExternalAccountBinding json.RawMessage `json:"externalAccountBinding"`
}

// accountView is the RFC 8555 §7.1.2 account object.
type accountView struct {
	Status  string   `json:"status"`
	Contact []string `json:"contact"`
	Orders  string   `json:"orders"`
	// ExternalAccountBinding echoes the binding's key id (as Boulder and
	// other EAB servers do, not the MAC).
	ExternalAccountBinding *struct {
		KID string `json:"kid"`
	} `json:"externalAccountBinding,omitempty"`
}

func (s *Service) accountView(a *Account) accountView {
	v := accountView{Status: a.Status, Contact: a.Contact, Orders: s.url(pathAccount) + a.ID + "/orders"}
	if v.Contact == nil {
		v.Contact = []string{}
	}
	return v
}

// newAccount is POST /acme/new-account (RFC 8555 §7.3). An existing key
// gets its account back (200). A new key needs an External Account
// Binding whose EAB key is valid and unused: the EAB key is bound and the
// account created in one transaction (201).
func (s *Service) newAccount(w http.ResponseWriter, r *http.Request) error {
	req, err := s.verify(r.Context(), r, s.url(pathNewAccount), byJWK)
	if err != nil {
		return err
	}
	var in newAccountRequest
	if err := req.decode(&in); err != nil {
		return err
	}
	ctx := r.Context()
	thumb, err := thumbprint(req.jwk)
	if err != nil {
		return err
	}
	if existing, ok, err := s.accountByThumbprint(ctx, s.db, thumb); err != nil {
		return err
	} else if ok {
		return s.existingAccount(w, r, existing)
	}
	if in.OnlyReturnExisting {
		return problem(ProbAccountDoesNotExist, http.StatusBadRequest, "no account has this key")
	}
	if len(in.ExternalAccountBinding) == 0 || string(in.ExternalAccountBinding) == "null" {
		return problem(ProbExternalAccountRequired, http.StatusUnauthorized,
			"this server requires an External Account Binding: ask your CA for an EAB key id and HMAC key")
	}
	contacts, err := checkContacts(in.Contact)
	if err != nil {
		return err
	}
	kid, err := s.verifyEAB(ctx, in.ExternalAccountBinding, req.jwk, s.url(pathNewAccount))
	if err != nil {
		return err
	}
	jwkJSON, err := req.jwk.MarshalJSON()
	if err != nil {
		return err
	}
	now := s.now()
	a := &Account{ID: ids.New("acme"), EABKID: kid, JWK: string(jwkJSON), Thumbprint: thumb, Contact: contacts,
		Status: StatusValid, CreatedAt: now, UpdatedAt: now, key: req.jwk}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		k, err := s.EAB.Bind(ctx, tx, kid, a.ID)
		if err != nil {
			return err
		}
		a.AccountID = k.AccountID
		return s.tab.accounts.Insert(ctx, tx, a.actor(), actAccountCreated, *a)
	})
	if err != nil {
		if store.IsUniqueViolation(err) {
			// The same key registered concurrently: answer its account.
			if existing, ok, err2 := s.accountByThumbprint(ctx, s.db, thumb); err2 == nil && ok {
				return s.existingAccount(w, r, existing)
			}
		}
		return err
	}
	s.log.Info("acme account created", "acmeAccount", a.ID, "account", a.AccountID, "eabKid", kid)
	w.Header().Set("Location", s.url(pathAccount)+a.ID)
	return s.writeJSON(w, r, http.StatusCreated, s.accountView(a))
}

// existingAccount answers newAccount for a key that has an account
// (RFC 8555 §7.3.1): 200 with its URL, unless the EAB key that bound it
// was revoked (bindingUsable); verify already checked the key.
func (s *Service) existingAccount(w http.ResponseWriter, r *http.Request, a *Account) error {
	if a.Status != StatusValid {
		// RFC 8555 §7.3.6: a POST from a deactivated account is 401.
		return unauthenticated("account %s is %s", a.ID, a.Status)
	}
	if err := s.bindingUsable(r.Context(), a); err != nil {
		return err
	}
	w.Header().Set("Location", s.url(pathAccount)+a.ID)
	return s.writeJSON(w, r, http.StatusOK, s.accountView(a))
}

// accountUpdate is POST /acme/acct/{id} (RFC 8555 §7.3.2, §7.3.6): a
// POST-as-GET, a contact update, or deactivation. Only the account's own
// key may sign it.
func (s *Service) accountUpdate(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	req, err := s.verify(r.Context(), r, s.url(pathAccount)+id, byKID)
	if err != nil {
		return err
	}
	if req.account.ID != id {
		return unauthorized("the request is signed by account %s, not %s", req.account.ID, id)
	}
	a := req.account
	if req.postAsGet() {
		return s.writeJSON(w, r, http.StatusOK, s.accountView(a))
	}
	var in struct {
		Status  string    `json:"status"`
		Contact *[]string `json:"contact"`
	}
	if err := req.decode(&in); err != nil {
		return err
	}
	ctx := r.Context()
	action := actAccountUpdated
	switch in.Status {
	case "":
	case StatusDeactivated:
		action = actAccountDeactivated
	default:
		return malformed("an account's status may only be changed to deactivated")
	}
	var contacts []string
	if in.Contact != nil {
		if contacts, err = checkContacts(*in.Contact); err != nil {
			return err
		}
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var cur Account
		if err := s.tab.accounts.Lock(ctx, tx, id, &cur); err != nil {
			return err
		}
		if cur.Status != StatusValid {
			return unauthenticated("account %s is %s", cur.ID, cur.Status)
		}
		if in.Status != "" {
			cur.Status = in.Status
		}
		if in.Contact != nil {
			cur.Contact = contacts
		}
		cur.UpdatedAt = s.now()
		if err := s.tab.accounts.Update(ctx, tx, a.actor(), action, cur); err != nil {
			return err
		}
		cur.key = a.key
		a = &cur
		return nil
	})
	if err != nil {
		return err
	}
	return s.writeJSON(w, r, http.StatusOK, s.accountView(a))
}
