package acme

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation"
	"github.com/vetca/vetca/internal/validation/dcv"
)

// staleProcessing is how long a challenge may stay processing before a
// new request runs its check again (a replica that stopped mid-check).
const staleProcessing = time.Minute

// challengeView is the RFC 8555 §8 challenge object.
type challengeView struct {
	Type      string   `json:"type"`
	URL       string   `json:"url"`
	Token     string   `json:"token"`
	Status    string   `json:"status"`
	Validated string   `json:"validated,omitempty"`
	Error     *Problem `json:"error,omitempty"`
}

func (s *Service) challengeView(c Challenge) challengeView {
	v := challengeView{Type: c.Type, URL: s.url(pathChallenge) + c.ID, Token: c.Token, Status: c.Status}
	if c.ValidatedAt != nil {
		v.Validated = c.ValidatedAt.UTC().Format(time.RFC3339)
	}
	if c.Error != "" {
		var p Problem
		if json.Unmarshal([]byte(c.Error), &p) == nil {
			v.Error = &p
		}
	}
	return v
}

// authorizationView is the RFC 8555 §7.1.4 authorization object.
type authorizationView struct {
	Identifier Identifier      `json:"identifier"`
	Status     string          `json:"status"`
	Expires    string          `json:"expires"`
	Challenges []challengeView `json:"challenges"`
	Wildcard   bool            `json:"wildcard,omitempty"`
}

func (s *Service) authorizationView(a Authorization, cs []Challenge, now time.Time) authorizationView {
	base, wild := strings.CutPrefix(a.Identifier, "*.")
	v := authorizationView{Identifier: Identifier{Type: "dns", Value: base}, Status: a.StatusAt(now), Expires: a.ExpiresAt.UTC().Format(time.RFC3339),
		Challenges: []challengeView{}, Wildcard: wild}
	for _, c := range cs {
		v.Challenges = append(v.Challenges, s.challengeView(c))
	}
	return v
}

// loadAuthorization reads an authorization of acct and its challenges
// (integrity-checked).
func (s *Service) loadAuthorization(ctx context.Context, q store.Querier, acct *Account, id string) (Authorization, []Challenge, error) {
	var a Authorization
	if err := s.tab.authorizations.Get(ctx, q, id, &a); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return Authorization{}, nil, notFound("no authorization %s", id)
		}
		return Authorization{}, nil, err
	}
	if a.ACMEAccountID != acct.ID {
		return Authorization{}, nil, notFound("no authorization %s", id)
	}
	cs, err := s.tab.challenges.Select(ctx, q, `WHERE authorization_id = ? ORDER BY type, id`, id)
	if err != nil {
		return Authorization{}, nil, err
	}
	return a, cs, nil
}

// authorization is POST /acme/authz/{id}: POST-as-GET, or deactivation
// (RFC 8555 §7.5.2).
func (s *Service) authorization(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	req, err := s.verify(ctx, r, s.url(pathAuthz)+id, byKID)
	if err != nil {
		return err
	}
	a, cs, err := s.loadAuthorization(ctx, s.db, req.account, id)
	if err != nil {
		return err
	}
	if !req.postAsGet() {
		var in struct {
			Status string `json:"status"`
		}
		if err := req.decode(&in); err != nil {
			return err
		}
		if in.Status != StatusDeactivated {
			return malformed("an authorization's status may only be changed to deactivated")
		}
		if a, err = s.deactivate(ctx, req.account, id); err != nil {
			return err
		}
	}
	return s.writeJSON(w, r, http.StatusOK, s.authorizationView(a, cs, s.now()))
}

// keyAuthorization is token "." thumbprint (RFC 8555 §8.1).
func keyAuthorization(token, thumb string) string { return token + "." + thumb }

// challenge is POST /acme/chall/{id} (RFC 8555 §7.5.1). POST-as-GET
// fetches it; an empty object asks for validation, which runs now: the
// domain validation of the challenge is recorded (validation.StartACME)
// and checked from the primary and the remote perspectives
// (validation.Validate), every attempt stored as evidence; then the
// challenge, its authorization and its order move on.
func (s *Service) challenge(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	req, err := s.verify(ctx, r, s.url(pathChallenge)+id, byKID)
	if err != nil {
		return err
	}
	acct := req.account
	c, a, err := s.loadChallenge(ctx, s.db, acct, id)
	if err != nil {
		return err
	}
	w.Header().Add("Link", `<`+s.url(pathAuthz)+a.ID+`>;rel="up"`)
	if req.postAsGet() {
		return s.writeJSON(w, r, http.StatusOK, s.challengeView(c))
	}
	var in map[string]json.RawMessage
	if err := req.decode(&in); err != nil {
		return err
	}
	now := s.now()
	switch {
	case c.Status == StatusProcessing && now.Sub(c.UpdatedAt) < staleProcessing,
		c.Status == StatusValid, c.Status == StatusInvalid:
		return s.writeJSON(w, r, http.StatusOK, s.challengeView(c))
	case a.StatusAt(now) != StatusPending:
		return unauthorized("authorization %s is %s", a.ID, a.StatusAt(now))
	}
	if c, err = s.startChallenge(ctx, acct, c, a); err != nil {
		return err
	}
	if c.Status != StatusProcessing {
		return s.writeJSON(w, r, http.StatusOK, s.challengeView(c))
	}
	attempt, err := s.Domains.Validate(ctx, acct.actor(), acct.AccountID, c.ValidationID)
	if err != nil {
		return err
	}
	if c, err = s.finishChallenge(ctx, acct, c.ID, attempt); err != nil {
		return err
	}
	return s.writeJSON(w, r, http.StatusOK, s.challengeView(c))
}

func (s *Service) loadChallenge(ctx context.Context, q store.Querier, acct *Account, id string) (Challenge, Authorization, error) {
	var c Challenge
	if err := s.tab.challenges.Get(ctx, q, id, &c); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return Challenge{}, Authorization{}, notFound("no challenge %s", id)
		}
		return Challenge{}, Authorization{}, err
	}
	if c.ACMEAccountID != acct.ID {
		return Challenge{}, Authorization{}, notFound("no challenge %s", id)
	}
	var a Authorization
	if err := s.tab.authorizations.Get(ctx, q, c.AuthorizationID, &a); err != nil {
		return Challenge{}, Authorization{}, err
	}
	return c, a, nil
}

// startChallenge moves a pending (or stale processing) challenge to
// processing and records its domain validation, in one transaction; a
// challenge someone else started meanwhile is returned as it is.
func (s *Service) startChallenge(ctx context.Context, acct *Account, c Challenge, a Authorization) (Challenge, error) {
	thumb := acct.Thumbprint
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var cur Challenge
		if err := s.tab.challenges.Lock(ctx, tx, c.ID, &cur); err != nil {
			return err
		}
		now := s.now()
		stale := cur.Status == StatusProcessing && now.Sub(cur.UpdatedAt) >= staleProcessing
		if cur.Status != StatusPending && !stale {
			c = cur
			return nil
		}
		if cur.ValidationID == "" {
			v, err := s.Domains.StartACME(ctx, tx, acct.actor(), acct.AccountID, a.Identifier, cur.Type, cur.Token, keyAuthorization(cur.Token, thumb))
			if err != nil {
				return err
			}
			cur.ValidationID = v.ID
		}
		cur.Status, cur.UpdatedAt = StatusProcessing, now
		if err := s.tab.challenges.Update(ctx, tx, acct.actor(), actChallengeProcessing, cur); err != nil {
			return err
		}
		c = cur
		return nil
	})
	return c, err
}

// attemptProblem is the RFC 8555 problem of a failed attempt: dns for a
// lookup failure, connection for a fetch that failed, incorrectResponse
// for a wrong answer.
func attemptProblem(at validation.Attempt) *Problem {
	reason := at.Reason
	typ := ProbIncorrectResponse
	switch {
	case strings.Contains(reason, "lookup") || strings.Contains(reason, "no TXT record") || strings.Contains(reason, "no A or AAAA"):
		typ = errNS + "dns"
	case strings.Contains(reason, "failed:") || strings.Contains(reason, "timed out") || strings.Contains(reason, "refused"):
		typ = ProbConnection
	}
	p := problem(typ, http.StatusForbidden, "%s", reason)
	return p
}

// finishChallenge records the outcome of a challenge's check: the
// challenge valid or invalid, its authorization the same, and its order
// ready (every authorization valid) or invalid.
func (s *Service) finishChallenge(ctx context.Context, acct *Account, id string, at validation.Attempt) (Challenge, error) {
	var out Challenge
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var c Challenge
		if err := s.tab.challenges.Lock(ctx, tx, id, &c); err != nil {
			return err
		}
		if c.Status != StatusProcessing {
			out = c
			return nil
		}
		now := s.now()
		var a Authorization
		if err := s.tab.authorizations.Lock(ctx, tx, c.AuthorizationID, &a); err != nil {
			return err
		}
		by := acct.actor()
		c.UpdatedAt, a.UpdatedAt = now, now
		if at.Status == dcv.StatusValid {
			c.Status, c.ValidatedAt, c.Error = StatusValid, &now, ""
			if err := s.tab.challenges.Update(ctx, tx, by, actChallengeValid, c); err != nil {
				return err
			}
			if a.Status == StatusPending {
				a.Status, a.ValidationID = StatusValid, c.ValidationID
				if err := s.tab.authorizations.Update(ctx, tx, by, actAuthorizationValid, a); err != nil {
					return err
				}
			}
		} else {
			b, _ := json.Marshal(attemptProblem(at))
			c.Status, c.Error = StatusInvalid, string(b)
			if err := s.tab.challenges.Update(ctx, tx, by, actChallengeInvalid, c); err != nil {
				return err
			}
			if a.Status == StatusPending {
				a.Status = StatusInvalid
				if err := s.tab.authorizations.Update(ctx, tx, by, actAuthorizationInvalid, a); err != nil {
					return err
				}
			}
		}
		out = c
		return s.orderAfterAuthorization(ctx, tx, acct, a)
	})
	return out, err
}

// orderAfterAuthorization moves an order on when one of its
// authorizations changed: a pending order is ready when all are valid;
// a pending or ready order is invalid when one is in a final state other
// than valid (RFC 8555 §7.1.6).
func (s *Service) orderAfterAuthorization(ctx context.Context, tx *store.Tx, acct *Account, changed Authorization) error {
	var o Order
	if err := s.tab.orders.Lock(ctx, tx, changed.ACMEOrderID, &o); err != nil {
		return err
	}
	if o.Status != StatusPending && o.Status != StatusReady {
		return nil
	}
	all := true
	for _, id := range o.AuthorizationIDs {
		var a Authorization
		if id == changed.ID {
			a = changed
		} else if err := s.tab.authorizations.Get(ctx, tx, id, &a); err != nil {
			return err
		}
		switch a.Status {
		case StatusValid:
		case StatusPending:
			all = false
		default:
			return s.invalidate(ctx, tx, acct, o, a)
		}
	}
	if !all || o.Status != StatusPending {
		return nil
	}
	o.Status, o.UpdatedAt = StatusReady, s.now()
	return s.tab.orders.Update(ctx, tx, acct.actor(), actOrderReady, o)
}

// invalidate makes a locked pending or ready order invalid because of its
// authorization a (RFC 8555 §7.1.6), with the problem saying so.
func (s *Service) invalidate(ctx context.Context, tx *store.Tx, acct *Account, o Order, a Authorization) error {
	b, _ := json.Marshal(problem(ProbUnauthorized, http.StatusForbidden, "authorization for %s is %s", a.Identifier, a.Status))
	o.Status, o.Error, o.UpdatedAt = StatusInvalid, string(b), s.now()
	return s.tab.orders.Update(ctx, tx, acct.actor(), actOrderInvalid, o)
}

// sameAuthorization is the clause that finds, among an account's
// authorizations, those that are one authorization to the client: the
// same identifier resting on the same domain validation (the one a
// challenge made, and those made valid at once by reusing it). Its
// arguments are the ACME account, the identifier, the validation and a
// status.
const sameAuthorization = `WHERE t.acme_order_id IN (SELECT o.id FROM acme_orders o WHERE o.acme_account_id = ?)
	AND t.identifier = ? AND t.validation_id = ? AND t.status = ?`

// relinquished reports whether acct deactivated an authorization for
// identifier resting on validation validationID: that validation no
// longer authorizes identifier for acct (RFC 8555 §7.5.2), neither for a
// new order nor for finalize or revokeCert.
func (s *Service) relinquished(ctx context.Context, q store.Querier, acctID, identifier, validationID string) (bool, error) {
	if validationID == "" {
		return false, nil
	}
	_, found, err := s.tab.authorizations.First(ctx, q, sameAuthorization+` LIMIT 1`, acctID, identifier, validationID, StatusDeactivated)
	return found, err
}

// deactivate deactivates authorization id of acct (RFC 8555 §7.5.2), and
// with it every authorization of acct that is the same one to the client
// (sameAuthorization) and valid now: one past its expiry, though stored
// valid, stays expired (§7.1.6). Each pending or ready order of theirs
// becomes invalid (§7.1.6). An order being finalized (processing) makes
// the deactivation wait for its outcome: it is refused, so no
// certificate is issued after a deactivation committed. Locks are taken
// authorizations first, in id order, then orders, in id order.
func (s *Service) deactivate(ctx context.Context, acct *Account, id string) (Authorization, error) {
	var out Authorization
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		now := s.now()
		group, err := s.lockDeactivation(ctx, tx, acct, id, now)
		if err != nil {
			return err
		}
		orders := map[string]Authorization{}
		var orderIDs []string
		for _, g := range group {
			if _, ok := orders[g.ACMEOrderID]; !ok {
				orderIDs = append(orderIDs, g.ACMEOrderID)
			}
			orders[g.ACMEOrderID] = g
		}
		slices.Sort(orderIDs)
		by := acct.actor()
		for _, oid := range orderIDs {
			var o Order
			if err := s.tab.orders.Lock(ctx, tx, oid, &o); err != nil {
				return err
			}
			switch o.Status {
			case StatusProcessing:
				return problem(ProbMalformed, http.StatusConflict,
					"order %s, which uses authorization %s, is being finalized; deactivate it once the order is valid or invalid", o.ID, id)
			case StatusPending, StatusReady:
				g := orders[oid]
				g.Status = StatusDeactivated
				if err := s.invalidate(ctx, tx, acct, o, g); err != nil {
					return err
				}
			}
		}
		for _, g := range group {
			g.Status, g.UpdatedAt = StatusDeactivated, now
			if err := s.tab.authorizations.Update(ctx, tx, by, actAuthorizationDeact, g); err != nil {
				return err
			}
			if g.ID == id {
				out = g
			}
		}
		return nil
	})
	return out, err
}

// lockDeactivation locks authorization id of acct and the others that are
// the same one to the client (sameAuthorization), in id order, and returns
// those deactivate moves: id, which must be pending or valid now, and the
// others valid now.
func (s *Service) lockDeactivation(ctx context.Context, tx *store.Tx, acct *Account, id string, now time.Time) ([]Authorization, error) {
	var a Authorization
	if err := s.tab.authorizations.Get(ctx, tx, id, &a); err != nil {
		return nil, err
	}
	lockIDs := []string{id}
	if a.ValidationID != "" {
		same, err := s.tab.authorizations.Select(ctx, tx, sameAuthorization+` ORDER BY t.id`, acct.ID, a.Identifier, a.ValidationID, StatusValid)
		if err != nil {
			return nil, err
		}
		for _, o := range same {
			if o.ID != id {
				lockIDs = append(lockIDs, o.ID)
			}
		}
	}
	slices.Sort(lockIDs)
	var group []Authorization
	for _, lid := range lockIDs {
		var cur Authorization
		if err := s.tab.authorizations.Lock(ctx, tx, lid, &cur); err != nil {
			return nil, err
		}
		switch st := cur.StatusAt(now); {
		case lid == id && st != StatusPending && st != StatusValid:
			// Expired is final too (RFC 8555 §7.1.6).
			return nil, unauthorized("authorization %s is %s", id, st)
		case lid == id || st == StatusValid && cur.Identifier == a.Identifier && cur.ValidationID == a.ValidationID:
			group = append(group, cur)
		}
	}
	return group, nil
}
