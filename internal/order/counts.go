package order

import (
	"context"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/issuance"
)

// Counts are the totals of orders and certificates a caller may see, as
// the console dashboard shows them.
type Counts struct {
	Orders          int // every order
	PendingApproval int // orders awaiting approval
	Certificates    int // certificates issued
}

// Counts counts the orders and certificates by may see: a subscriber's
// own, or (staff) all. Like the other dashboard counts they are plain
// counts, not decisions, so rows are not integrity-checked here.
func (s *Service) Counts(ctx context.Context, by actor.Actor) (Counts, error) {
	where, args := "", []any{}
	switch {
	case by.Kind == actor.Subscriber:
		where, args = " WHERE account_id = ?", []any{by.AccountID}
	case by.IsStaff():
	default:
		return Counts{}, apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "not allowed")
	}
	var c Counts
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM orders`+where, args...).Scan(&c.Orders); err != nil {
		return Counts{}, err
	}
	pending := " WHERE status = ?"
	if where != "" {
		pending = where + " AND status = ?"
	}
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM orders`+pending, append(args, StatusPendingApproval)...).Scan(&c.PendingApproval); err != nil {
		return Counts{}, err
	}
	accountID := ""
	if by.Kind == actor.Subscriber {
		accountID = by.AccountID
	}
	n, err := issuance.CountCertificates(ctx, s.db, accountID)
	if err != nil {
		return Counts{}, err
	}
	c.Certificates = n
	return c, nil
}
