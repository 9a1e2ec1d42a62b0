package revocation

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation/crl"
	"github.com/vetca/vetca/internal/store"
)

// Finding is one CRL coverage problem.
type Finding struct {
	URL     string `json:"url"`
	Serial  string `json:"serial,omitempty"`
	Message string `json:"message"`
}

// Fetcher fetches a URL (HTTP in production, the server in tests).
type Fetcher func(ctx context.Context, url string) ([]byte, error)

// VerifyCoverage proves that every revoked, unexpired certificate is in
// exactly one current shard (its own), with its reason and date, and that
// every published shard is valid and, with fetch set, fetchable at its URL
// with the same bytes. It returns the findings; none means all is well.
func (p *Publisher) VerifyCoverage(ctx context.Context, fetch Fetcher) ([]Finding, error) {
	now := p.clk.Now()
	targets, err := p.Targets(ctx)
	if err != nil {
		return nil, err
	}
	var out []Finding
	add := func(url, serial, format string, args ...any) {
		out = append(out, Finding{URL: url, Serial: serial, Message: fmt.Sprintf(format, args...)})
	}
	infos := map[string]*crl.Info{} // by URL
	shardOf := map[string]Target{}
	for _, t := range targets {
		shardOf[t.URL] = t
		der, rec, err := p.Get(ctx, t.URL)
		if err != nil {
			add(t.URL, "", "no current CRL: %v", err)
			continue
		}
		issCert, err := t.Issuer.Certificate()
		if err != nil {
			return nil, err
		}
		if t.Full {
			rl, err := x509.ParseRevocationList(der)
			if err != nil || rl.CheckSignatureFrom(issCert) != nil {
				add(t.URL, "", "root CRL does not parse or verify: %v", err)
			} else if now.After(rl.NextUpdate) {
				add(t.URL, "", "root CRL is stale: nextUpdate %s", rl.NextUpdate.Format(time.RFC3339))
			}
		} else {
			info, err := crl.Verify(der, issCert, crl.Expect{URL: t.URL, Now: now})
			if err != nil {
				add(t.URL, "", "invalid CRL: %v", err)
				continue
			}
			if info.Number.Int64() != rec.Number {
				add(t.URL, "", "CRLNumber %s differs from the published record %d", info.Number, rec.Number)
			}
			infos[t.URL] = info
		}
		if fetch != nil {
			got, err := fetch(ctx, t.URL)
			switch {
			case err != nil:
				add(t.URL, "", "not fetchable: %v", err)
			case string(got) != string(der):
				add(t.URL, "", "the URL serves different bytes than the current CRL")
			}
		}
	}
	// Every revoked, unexpired certificate: from the revocations and from
	// the certificates marked revoked (so a deleted revocation row is still
	// caught).
	type revoked struct {
		Serial     string    `db:"serial"`
		IssuerID   string    `db:"issuer_id"`
		URL        string    `db:"crl_url"`
		ReasonCode *int64    `db:"reason_code"`
		NotAfter   time.Time `db:"not_after"`
	}
	// The revoked serials each published CRL must list: every unexpired
	// revocation, and every unexpired certificate marked revoked (package
	// issuance), which must have one. The coverage check reports problems,
	// it decides nothing (audit verify checks the rows).
	rows, err := store.SelectUnchecked[revoked](ctx, p.db, `SELECT serial, issuer_id, crl_url, reason_code, not_after FROM revocations
		WHERE not_after > ?`, store.FormatTime(now))
	if err != nil {
		return nil, err
	}
	recorded := map[string]bool{}
	for _, r := range rows {
		recorded[r.Serial] = true
	}
	marked, err := issuance.RevokedUnexpired(ctx, p.db, now)
	if err != nil {
		return nil, err
	}
	for _, c := range marked {
		if !recorded[c.Serial] {
			rows = append(rows, revoked{Serial: c.Serial, IssuerID: c.IssuerID, URL: c.URL, NotAfter: c.NotAfter})
		}
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.Serial] {
			continue
		}
		seen[r.Serial] = true
		url := r.URL
		info, ok := infos[url]
		if !ok {
			add(url, r.Serial, "revoked certificate's shard has no valid CRL")
			continue
		}
		e, ok := info.Entries[r.Serial]
		if !ok {
			add(url, r.Serial, "revoked, unexpired certificate is missing from its shard's CRL")
			continue
		}
		if r.ReasonCode == nil {
			add(url, r.Serial, "certificate is marked revoked but has no revocation record")
		} else if int64(e.Reason) != *r.ReasonCode {
			add(url, r.Serial, "CRL reason %d differs from the recorded %d", e.Reason, *r.ReasonCode)
		}
		for u, other := range infos {
			if u != url && shardOf[u].Issuer.ID == r.IssuerID {
				if _, dup := other.Entries[r.Serial]; dup {
					add(u, r.Serial, "serial also listed in another shard")
				}
			}
		}
	}
	return out, nil
}
