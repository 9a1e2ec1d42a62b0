package cpr

import (
	"context"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/store"
)

// matcher collects matches once per serial, the first way found winning.
type matcher struct {
	s    *Service
	q    store.Querier
	out  []Match
	seen map[string]bool
}

func (m *matcher) add(serial string, kind MatchKind, accountID string, by MatchedBy, spki string) {
	if m.seen[serial] {
		return
	}
	m.seen[serial] = true
	m.out = append(m.out, Match{Serial: serial, Kind: kind, AccountID: accountID, MatchedBy: by, SPKISHA256: spki})
}

// match finds what a report is about, across every account: the
// certificates and issuances in flight named by serial; the submitted
// certificates (exact hash) and everything sharing their key; and
// everything with a proven key.
func (s *Service) match(ctx context.Context, q store.Querier, c checked) ([]Match, error) {
	m := &matcher{s: s, q: q, seen: map[string]bool{}}
	for _, sn := range c.serials {
		if err := m.bySerial(ctx, sn); err != nil {
			return nil, err
		}
	}
	for _, cert := range c.certs {
		stored, ok, err := s.deps.Inventory.CertificateByHash(ctx, q, certHash(cert))
		if err != nil {
			return nil, err
		}
		if ok {
			m.add(stored.Serial, MatchCertificate, stored.AccountID, ByCertificate, stored.SPKISHA256)
		}
		h, err := spkiOf(cert.PublicKey, "certificates")
		if err != nil {
			return nil, err
		}
		if err := m.byKey(ctx, h, ByCertificate); err != nil {
			return nil, err
		}
	}
	for _, p := range c.proofs {
		if err := m.byKey(ctx, p.spki, p.by); err != nil {
			return nil, err
		}
	}
	return m.out, nil
}

func (m *matcher) bySerial(ctx context.Context, sn string) error {
	inv := m.s.deps.Inventory
	cert, ok, err := inv.CertificateBySerial(ctx, m.q, sn)
	if err != nil || ok {
		if ok {
			m.add(cert.Serial, MatchCertificate, cert.AccountID, BySerial, cert.SPKISHA256)
		}
		return err
	}
	in, ok, err := inv.IntentBySerial(ctx, m.q, sn)
	if err != nil || !ok || in.Status != issuance.IntentPending {
		return err
	}
	acc, err := m.s.deps.Orders.AccountOfOrder(ctx, m.q, in.OrderID)
	if err != nil {
		return err
	}
	m.add(in.Serial, MatchIntent, acc, BySerial, "")
	return nil
}

// byKey matches every stored certificate with the key and every issuance
// still in flight for an order with the key.
func (m *matcher) byKey(ctx context.Context, spki string, by MatchedBy) error {
	certs, err := m.s.deps.Inventory.CertificatesWithKey(ctx, m.q, spki)
	if err != nil {
		return err
	}
	for _, c := range certs {
		m.add(c.Serial, MatchCertificate, c.AccountID, by, spki)
	}
	orders, err := m.s.deps.Orders.OrdersWithKey(ctx, m.q, spki)
	if err != nil || len(orders) == 0 {
		return err
	}
	accounts := map[string]string{}
	idList := make([]string, len(orders))
	for i, o := range orders {
		idList[i], accounts[o.ID] = o.ID, o.AccountID
	}
	intents, err := m.s.deps.Inventory.IntentsOfOrders(ctx, m.q, idList)
	if err != nil {
		return err
	}
	for _, in := range intents {
		if in.Status == issuance.IntentPending {
			m.add(in.Serial, MatchIntent, accounts[in.OrderID], by, spki)
		}
	}
	return nil
}

// insertMatches records new matches of a case (a serial already matched
// is left as it is) with a timeline entry each.
func (s *Service) insertMatches(ctx context.Context, tx *store.Tx, by actor.Actor, caseID string, ms []Match) error {
	have, err := s.tab.matches.Select(ctx, tx, `WHERE report_id = ?`, caseID)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, m := range have {
		known[m.Serial] = true
	}
	now := s.now()
	for _, m := range ms {
		if known[m.Serial] {
			continue
		}
		m.ID, m.ReportID, m.CreatedAt = ids.New("cpm"), caseID, now
		if err := s.tab.matches.Insert(ctx, tx, by, actReportMatched, m); err != nil {
			return err
		}
		e := Event{ReportID: caseID, Kind: EventMatched, AccountID: m.AccountID, Ref: m.Serial,
			Detail: string(m.Kind) + " matched by " + string(m.MatchedBy)}
		if err := s.event(ctx, tx, by, e); err != nil {
			return err
		}
	}
	return nil
}
