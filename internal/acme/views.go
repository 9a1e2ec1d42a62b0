package acme

import (
	"context"
	"errors"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
)

// readers are the staff roles that may read ACME accounts and orders;
// the vetca account's subscriber may read its own.
var readers = []actor.Role{actor.Verifier, actor.Admin, actor.Compliance, actor.Auditor}

// OrderView is an ACME order as staff see it, with its status now.
type OrderView struct {
	Order
	StatusNow string `json:"statusNow"`
}

// AccountView is an ACME account as staff and its subscriber see it:
// StatusNow is "revoked" (RFC 8555 §7.1.6: the server revoked it) with
// CutOff saying why, for a valid account that may no longer act, because
// its key was blocked as compromised or fails the key policy, or the EAB
// key that bound it was revoked (accountUsable); else its status.
type AccountView struct {
	Account
	StatusNow string `json:"statusNow"`
	CutOff    string `json:"cutOff,omitempty"`
}

// Accounts returns one page of the ACME accounts bound to a vetca
// account, newest first (GET /api/v1/accounts/{id}/acme-accounts).
func (s *Service) Accounts(ctx context.Context, by actor.Actor, accountID string, p store.Page) ([]AccountView, string, error) {
	if err := by.CanActForAccount(accountID, readers...); err != nil {
		return nil, "", err
	}
	var w store.Where
	w.Add("account_id = ?", accountID)
	list, next, err := s.tab.accounts.NewestFirst(ctx, s.db, w, p, func(a Account) (time.Time, string) { return a.CreatedAt, a.ID })
	if err != nil {
		return nil, "", err
	}
	out := make([]AccountView, 0, len(list))
	for _, a := range list {
		v, err := s.viewOf(ctx, a)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	return out, next, nil
}

// viewOf is a's view: a valid account is checked as a request it signed
// would be, after its signature (accountUsable).
func (s *Service) viewOf(ctx context.Context, a Account) (AccountView, error) {
	v := AccountView{Account: a, StatusNow: a.Status}
	if a.Status != StatusValid {
		return v, nil
	}
	k, err := withKey(a)
	if err != nil {
		return AccountView{}, err
	}
	var p *Problem
	if _, err := s.accountUsable(ctx, k); errors.As(err, &p) {
		v.StatusNow, v.CutOff = StatusRevoked, p.Detail
	} else if err != nil {
		return AccountView{}, err
	}
	return v, nil
}

// OrdersOf returns one page of an ACME account's orders, newest first (GET
// /api/v1/acme-accounts/{id}/orders).
func (s *Service) OrdersOf(ctx context.Context, by actor.Actor, acmeAccountID string, p store.Page) (AccountView, []OrderView, string, error) {
	var a Account
	if err := s.tab.accounts.Get(ctx, s.db, acmeAccountID, &a); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return AccountView{}, nil, "", apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "no ACME account %s", acmeAccountID)
		}
		return AccountView{}, nil, "", err
	}
	if err := by.CanActForAccount(a.AccountID, readers...); err != nil {
		if by.Kind == actor.Subscriber {
			return AccountView{}, nil, "", apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "no ACME account %s", acmeAccountID)
		}
		return AccountView{}, nil, "", err
	}
	var w store.Where
	w.Add("acme_account_id = ?", acmeAccountID)
	list, next, err := s.tab.orders.NewestFirst(ctx, s.db, w, p, func(o Order) (time.Time, string) { return o.CreatedAt, o.ID })
	if err != nil {
		return AccountView{}, nil, "", err
	}
	now := s.now()
	out := make([]OrderView, 0, len(list))
	for _, o := range list {
		out = append(out, OrderView{Order: o, StatusNow: o.StatusAt(now)})
	}
	v, err := s.viewOf(ctx, a)
	if err != nil {
		return AccountView{}, nil, "", err
	}
	return v, out, next, nil
}
