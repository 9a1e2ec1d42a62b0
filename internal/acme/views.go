package acme

import (
	"context"
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

// Accounts returns one page of the ACME accounts bound to a vetca
// account, newest first (GET /api/v1/accounts/{id}/acme-accounts).
func (s *Service) Accounts(ctx context.Context, by actor.Actor, accountID string, p store.Page) ([]Account, string, error) {
	if err := by.CanActForAccount(accountID, readers...); err != nil {
		return nil, "", err
	}
	var w store.Where
	w.Add("account_id = ?", accountID)
	return s.tab.accounts.NewestFirst(ctx, s.db, w, p, func(a Account) (time.Time, string) { return a.CreatedAt, a.ID })
}

// OrdersOf returns one page of an ACME account's orders, newest first (GET
// /api/v1/acme-accounts/{id}/orders).
func (s *Service) OrdersOf(ctx context.Context, by actor.Actor, acmeAccountID string, p store.Page) (Account, []OrderView, string, error) {
	var a Account
	if err := s.tab.accounts.Get(ctx, s.db, acmeAccountID, &a); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return Account{}, nil, "", apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "no ACME account %s", acmeAccountID)
		}
		return Account{}, nil, "", err
	}
	if err := by.CanActForAccount(a.AccountID, readers...); err != nil {
		if by.Kind == actor.Subscriber {
			return Account{}, nil, "", apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "no ACME account %s", acmeAccountID)
		}
		return Account{}, nil, "", err
	}
	var w store.Where
	w.Add("acme_account_id = ?", acmeAccountID)
	list, next, err := s.tab.orders.NewestFirst(ctx, s.db, w, p, func(o Order) (time.Time, string) { return o.CreatedAt, o.ID })
	if err != nil {
		return Account{}, nil, "", err
	}
	now := s.now()
	out := make([]OrderView, 0, len(list))
	for _, o := range list {
		out = append(out, OrderView{Order: o, StatusNow: o.StatusAt(now)})
	}
	return a, out, next, nil
}
