package validation

import (
	"context"
	"errors"
	"time"

	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/caa"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/mpic"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation/dcv"
)

// DNSChecker runs DNS Change validation (*dcv.DNSChecker).
type DNSChecker interface {
	Check(ctx context.Context, domain, value string) (dcv.Evidence, error)
	CheckACME(ctx context.Context, domain, digest string) (dcv.Evidence, error)
}

// WebsiteChecker runs Agreed-Upon Change to Website v2 validation
// (*dcv.HTTPChecker).
type WebsiteChecker interface {
	Check(ctx context.Context, domain, fileName, value string) (dcv.Evidence, error)
	URL(domain, fileName string) string
	CheckACME(ctx context.Context, domain, token, keyAuthorization string) (dcv.Evidence, error)
	ACMEURL(domain, token string) string
}

// CAAChecker evaluates CAA for one name (*caa.Checker).
type CAAChecker interface {
	Check(ctx context.Context, domain string) (caa.Result, error)
}

// Corroborator repeats a check from the remote perspectives
// (*mpic.Corroborator).
type Corroborator interface {
	Corroborate(ctx context.Context, req mpic.CheckRequest, primary bool) mpic.Outcome
}

// Checkers are the network-facing parts the service drives. DNS and
// Website are required. A nil CAA makes CheckCAA refuse every request
// (fail closed: no issuer identity is configured). A nil Corroborator
// means no remote perspectives, exactly as a Corroborator with none.
type Checkers struct {
	DNS          DNSChecker
	Website      WebsiteChecker
	CAA          CAAChecker
	Corroborator Corroborator
}

// AccountChecker confirms that an account exists and is intact (package
// account owns the accounts table).
type AccountChecker interface {
	CheckAccount(ctx context.Context, q store.Querier, id string) error
}

// Config tunes the service.
type Config struct {
	// Parallel is how many SANs CheckCAA checks at once (default 4).
	Parallel int
}

// Service is the domain-validation service.
type Service struct {
	db  *store.DB
	rec *audit.Recorder
	tab tables
	clk clock.Clock
	chk Checkers
	cfg Config
	acc AccountChecker
}

// New returns the domain-validation service.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock, accounts AccountChecker, chk Checkers, cfg Config) (*Service, error) {
	if db == nil || rec == nil || clk == nil || accounts == nil {
		return nil, errors.New("domain: New needs a database, a recorder, a clock and the accounts")
	}
	if chk.DNS == nil || chk.Website == nil {
		return nil, errors.New("domain: New needs the dns-change and website-change checkers")
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	return &Service{db: db, rec: rec, tab: newTables(rec), clk: clk, chk: chk, cfg: cfg, acc: accounts}, nil
}

// now is the service's clock reading as stored: UTC, whole seconds.
func (s *Service) now() time.Time { return s.clk.Now().UTC().Truncate(time.Second) }

// corroborate asks the remote perspectives to repeat req when the primary
// determination is positive. A negative primary determination needs no
// corroboration (BR §3.2.2.9 corroborates the primary's determination
// that issuance may proceed), and none is asked for.
func (s *Service) corroborate(ctx context.Context, req mpic.CheckRequest, primary bool) mpic.Outcome {
	if !primary {
		return mpic.Outcome{Request: req, Primary: false, EvaluatedAt: s.clk.Now(), Results: []mpic.PerspectiveResult{},
			Quorum: mpic.Quorum{Summary: "corroboration not performed: the primary perspective's determination was negative"}}
	}
	if s.chk.Corroborator == nil {
		at := s.clk.Now()
		q := mpic.EvaluateQuorum(at, 0, 0, nil)
		q.Summary = "no remote perspectives configured: corroboration not performed; " + q.Summary
		return mpic.Outcome{Request: req, Primary: true, EvaluatedAt: at, Results: []mpic.PerspectiveResult{}, Quorum: q}
	}
	out := s.chk.Corroborator.Corroborate(ctx, req, true)
	if out.Results == nil {
		out.Results = []mpic.PerspectiveResult{}
	}
	return out
}

// decided applies the corroboration to the primary determination: the
// primary must be positive and, when perspectives were asked, the BR
// §3.2.2.9 quorum rule in force at the time must allow issuance. With no
// perspectives configured (--perspective) the primary decides alone and the
// evidence says corroboration was not performed.
func decided(primary bool, out mpic.Outcome) bool {
	if !primary {
		return false
	}
	if !out.Performed {
		return true
	}
	return out.Quorum.MayIssue
}
