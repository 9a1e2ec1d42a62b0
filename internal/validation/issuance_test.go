package validation_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/dnstest"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation"
	"github.com/vetca/vetca/internal/validation/dcv"
)

const us = apptest.CAAIdentity

type caaRec struct {
	owner string
	flag  uint8
	tag   string
	value string
}

// A table-driven CAA test of the RFC 8659 cases, run
// through CheckCAA against a real DNS server on loopback. Each case has the
// expected permit or deny; a denial is 403 caa_forbidden naming dnsNames,
// with a message that names the SAN and says CAA.
func TestCheckCAATable(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			w := newWorld(t, backend)
			cases := []struct {
				name    string
				section string
				records []caaRec
				cnames  map[string]string
				servfl  string
				san     string
				permit  bool
			}{
				{"no CAA records up to the TLD", "RFC 8659 §3", nil, nil, "", "www.acme-widgets.com", true},
				{"iodef only", "RFC 8659 §4.4", []caaRec{{"acme-widgets.com", 0, "iodef", "mailto:security@acme-widgets.com"}}, nil, "", "www.acme-widgets.com", true},
				{"issue names vetca", "RFC 8659 §4.2", []caaRec{{"acme-widgets.com", 0, "issue", us}}, nil, "", "www.acme-widgets.com", true},
				{"empty issue value (;) forbids everyone", "RFC 8659 §4.2", []caaRec{{"acme-widgets.com", 0, "issue", ";"}}, nil, "", "www.acme-widgets.com", false},
				{"another CA only", "RFC 8659 §4.2", []caaRec{{"acme-widgets.com", 0, "issue", "other-ca.example"}}, nil, "", "www.acme-widgets.com", false},
				{"issue with parameters naming vetca", "RFC 8659 §4.2", []caaRec{{"acme-widgets.com", 0, "issue", us + "; account=230123"}}, nil, "", "www.acme-widgets.com", true},
				{"issuewild names vetca: wildcard permitted", "RFC 8659 §4.3", []caaRec{{"acme-widgets.com", 0, "issue", "other-ca.example"}, {"acme-widgets.com", 0, "issuewild", us}}, nil, "", "*.acme-widgets.com", true},
				{"issuewild is ignored for a non-wildcard", "RFC 8659 §4.3", []caaRec{{"acme-widgets.com", 0, "issue", "other-ca.example"}, {"acme-widgets.com", 0, "issuewild", us}}, nil, "", "www.acme-widgets.com", false},
				{"issuewild ; forbids a wildcard", "RFC 8659 §4.3", []caaRec{{"acme-widgets.com", 0, "issue", us}, {"acme-widgets.com", 0, "issuewild", ";"}}, nil, "", "*.acme-widgets.com", false},
				{"issuewild ; does not touch a non-wildcard", "RFC 8659 §4.3", []caaRec{{"acme-widgets.com", 0, "issue", us}, {"acme-widgets.com", 0, "issuewild", ";"}}, nil, "", "www.acme-widgets.com", true},
				{"wildcard without issuewild falls back to issue", "RFC 8659 §4.3", []caaRec{{"acme-widgets.com", 0, "issue", us}}, nil, "", "*.acme-widgets.com", true},
				{"critical unknown tag forbids", "RFC 8659 §4.1", []caaRec{{"acme-widgets.com", 128, "tbs", "unknown"}, {"acme-widgets.com", 0, "issue", us}}, nil, "", "www.acme-widgets.com", false},
				{"non-critical unknown tag is ignored", "RFC 8659 §4.1", []caaRec{{"acme-widgets.com", 0, "tbs", "unknown"}, {"acme-widgets.com", 0, "issue", us}}, nil, "", "www.acme-widgets.com", true},
				{"upper-case ISSUE naming another CA forbids", "RFC 8659 §4.1 (tags are case-insensitive)", []caaRec{{"acme-widgets.com", 0, "ISSUE", "other-ca.example"}}, nil, "", "www.acme-widgets.com", false},
				{"mixed-case Issue and identity naming vetca permits", "RFC 8659 §4.1, §4.2", []caaRec{{"acme-widgets.com", 0, "Issue", "PKI.Vetca-Test.com"}}, nil, "", "www.acme-widgets.com", true},
				{"upper-case IssueWild ; forbids a wildcard", "RFC 8659 §4.1, §4.3", []caaRec{{"acme-widgets.com", 0, "issue", us}, {"acme-widgets.com", 0, "IssueWild", ";"}}, nil, "", "*.acme-widgets.com", false},
				{"climbing: the closest RRset wins over its parent's", "RFC 8659 §3", []caaRec{{"acme-widgets.com", 0, "issue", "other-ca.example"}, {"shop.acme-widgets.com", 0, "issue", us}}, nil, "", "a.shop.acme-widgets.com", true},
				{"climbing: a parent's RRset applies", "RFC 8659 §3", []caaRec{{"acme-widgets.com", 0, "issue", "other-ca.example"}}, nil, "", "a.b.www.acme-widgets.com", false},
				{"CNAME: the target's RRset is the name's", "RFC 8659 §3", []caaRec{{"edge.cdn-provider.net", 0, "issue", "other-ca.example"}, {"acme-widgets.com", 0, "issue", us}},
					map[string]string{"www.acme-widgets.com": "edge.cdn-provider.net"}, "", "www.acme-widgets.com", false},
				{"CNAME: climbing goes to the name's parents, not the target's", "RFC 8659 §3", []caaRec{{"cdn-provider.net", 0, "issue", "other-ca.example"}, {"acme-widgets.com", 0, "issue", us}},
					map[string]string{"www.acme-widgets.com": "edge.cdn-provider.net"}, "", "www.acme-widgets.com", true},
				{"lookup failure (SERVFAIL, e.g. DNSSEC bogus) forbids", "RFC 8659 §3, BR §3.2.2.8", []caaRec{{"acme-widgets.com", 0, "issue", us}}, nil, "acme-widgets.com", "www.acme-widgets.com", false},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					d := dnstest.New(t)
					for _, r := range c.records {
						d.AddCAA(r.owner, r.flag, r.tag, r.value)
					}
					for from, to := range c.cnames {
						d.AddCNAME(from, to)
					}
					if c.servfl != "" {
						d.SetRcode(c.servfl, dns.RcodeServerFailure)
					}
					svc := w.service(t, d.Addr(), 80, time.Second, nil)
					names := []string{"shop.acme-widgets.com", c.san}
					d.AddCAA("shop.acme-widgets.com", 0, "issue", us) // a second SAN that always permits
					res, err := svc.CheckCAA(ctx, names)
					if len(res) != 2 {
						t.Fatalf("%s: %d results for 2 SANs (%v)", c.section, len(res), err)
					}
					got := res[1]
					if got.DNSName != c.san || got.Permitted != c.permit {
						t.Fatalf("%s: %s permitted=%v, want %v (%s)", c.section, got.DNSName, got.Permitted, c.permit, got.Reason)
					}
					if !res[0].Permitted {
						t.Fatalf("the other SAN was refused: %s", res[0].Reason)
					}
					var ev struct {
						CAA struct {
							Domain  string `json:"domain"`
							Queries []any  `json:"queries"`
						} `json:"caa"`
					}
					if err := json.Unmarshal(got.Evidence, &ev); err != nil || ev.CAA.Domain != c.san || len(ev.CAA.Queries) == 0 {
						t.Fatalf("evidence %s (%v)", got.Evidence, err)
					}
					if c.permit {
						if err != nil {
							t.Fatalf("%s: %v", c.section, err)
						}
						if got.IssueBefore.Sub(got.CheckedAt) < 8*time.Hour {
							t.Fatalf("issueBefore %v is less than 8 hours after %v (BR §3.2.2.8)", got.IssueBefore, got.CheckedAt)
						}
						return
					}
					e := wantErr(t, err, apperr.KindForbidden, "dnsNames", "caa_forbidden")
					if !strings.Contains(e.Message, "CAA") || !strings.Contains(e.Message, c.san) {
						t.Fatalf("message %q must name %s and say CAA", e.Message, c.san)
					}
					if !got.IssueBefore.IsZero() {
						t.Fatalf("a refused result has issueBefore %v", got.IssueBefore)
					}
				})
			}
		})
	}
}

// validate runs dns-change for name on w's own service and DNS.
func (w *world) validate(t *testing.T, name, method string) validation.Validation {
	t.Helper()
	v, err := w.App.Domains.Start(ctx, w.Sub, w.AccID, name, method)
	if err != nil {
		t.Fatal(err)
	}
	w.DNS.AddTXT(v.RecordName, v.RandomValue)
	a, err := w.App.Domains.Validate(ctx, w.Sub, w.AccID, v.ID)
	if err != nil || a.Status != "valid" {
		t.Fatalf("validate %s: %v %+v", name, err, a)
	}
	return v
}

// BR §3.2.2.4.7 note and §3.2.2.4.18 note, BR §4.2.1: which SANs a
// validation covers, for how long, and for whom.
func TestRequireValidated(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ws := newWebsite(t)
		web := w.service(t, w.DNS.Addr(), ws.port, time.Second, nil)
		validatedAt := w.Clock.Now()
		w.validate(t, "acme-widgets.com", "dns-change")
		w.DNS.AddA("site.acme-gadgets.com", "127.0.0.1")
		v, err := web.Start(ctx, w.Sub, w.AccID, "site.acme-gadgets.com", "website-change")
		if err != nil {
			t.Fatal(err)
		}
		ws.serve("site.acme-gadgets.com", v.RandomValue)
		if a, err := web.Validate(ctx, w.Sub, w.AccID, v.ID); err != nil || a.Status != "valid" {
			t.Fatalf("website validation: %v %+v", err, a)
		}
		otherID, other := w.account(t, "Other Corp")
		ov, err := w.App.Domains.Start(ctx, other, otherID, "other-corp.com", "")
		if err != nil {
			t.Fatal(err)
		}
		w.DNS.AddTXT(ov.RecordName, ov.RandomValue)
		if _, err := w.App.Domains.Validate(ctx, other, otherID, ov.ID); err != nil {
			t.Fatal(err)
		}
		now := w.Clock.Now()
		until := br.DomainValidationReusableUntil(validatedAt)
		if !until.After(validatedAt.Add(99 * br.Day)) {
			t.Fatalf("reuse period of a validation made %v ends %v", validatedAt, until)
		}
		cases := []struct {
			name    string
			section string
			sans    []string
			at      time.Time
			ok      bool
			first   string // the name the refusal must name
		}{
			{"the validated name", "BR §3.2.2.4.7", []string{"acme-widgets.com"}, now, true, ""},
			{"subdomains and a wildcard of a dns-change name", "BR §3.2.2.4.7 note", []string{"www.acme-widgets.com", "a.b.acme-widgets.com", "*.acme-widgets.com"}, now, true, ""},
			{"upper case and a trailing dot are the same name", "RFC 4343", []string{"WWW.Acme-Widgets.COM."}, now, true, ""},
			{"website-change covers the exact name", "BR §3.2.2.4.18", []string{"site.acme-gadgets.com"}, now, true, ""},
			{"website-change does not cover a subdomain", "BR §3.2.2.4.18 note", []string{"www.site.acme-gadgets.com"}, now, false, "www.site.acme-gadgets.com"},
			{"website-change does not cover a wildcard", "BR §3.2.2.4.18 note", []string{"*.site.acme-gadgets.com"}, now, false, "*.site.acme-gadgets.com"},
			{"a sibling is not covered", "BR §3.2.2.4.7", []string{"acme-gadgets.com"}, now, false, "acme-gadgets.com"},
			{"another account's validation is not ours", "BR §3.2.2.4", []string{"other-corp.com"}, now, false, "other-corp.com"},
			{"the first uncovered SAN is named", "BR §3.2.2.4", []string{"www.acme-widgets.com", "nope.example-corp.com", "other-corp.com"}, now, false, "nope.example-corp.com"},
			{"99 days later, before 2027-03-15: the 200-day period applies", "BR §4.2.1", []string{"acme-widgets.com"}, validatedAt.Add(99 * br.Day), true, ""},
			{"the last instant of the reuse period", "BR §4.2.1", []string{"acme-widgets.com"}, until, true, ""},
			{"a second after the reuse period", "BR §4.2.1", []string{"acme-widgets.com"}, until.Add(time.Second), false, "acme-widgets.com"},
			{"150 days later: the period in force at issuance (100 days from 2027-03-15) applies", "BR §4.2.1", []string{"acme-widgets.com"}, validatedAt.Add(150 * br.Day), false, "acme-widgets.com"},
			{"before the validation was made", "BR §4.2.1", []string{"acme-widgets.com"}, validatedAt.Add(-time.Second), false, "acme-widgets.com"},
		}
		for _, c := range cases {
			rel, err := w.App.Domains.RequireValidated(ctx, w.App.DB, w.AccID, c.sans, c.at)
			if !c.ok {
				e := wantErr(t, err, apperr.KindInvalid, "dnsNames", "domain_not_validated")
				if !strings.HasPrefix(e.Message, c.first+" ") {
					t.Errorf("%s (%s): message %q does not name %s first", c.name, c.section, e.Message, c.first)
				}
				continue
			}
			if err != nil || len(rel) != len(c.sans) {
				t.Fatalf("%s (%s): %v %+v", c.name, c.section, err, rel)
			}
			for _, r := range rel {
				m, _ := dcv.MethodByName(r.Method)
				if r.ValidationID == "" || r.AttemptID == "" || r.MethodVersion != m.Version || r.ValidatedAt.IsZero() {
					t.Fatalf("%s: reliance %+v", c.name, r)
				}
			}
		}
		for _, bad := range []string{"10.0.0.1", "intranet", "host.local", "*.com"} {
			_, err := w.App.Domains.RequireValidated(ctx, w.App.DB, w.AccID, []string{bad}, now)
			if e, ok := apperr.As(err); !ok || e.Field != "dnsNames" || e.Kind != apperr.KindInvalid {
				t.Errorf("%q: %v", bad, err)
			}
		}
	})
}

// A row changed outside vetca is never relied on: RequireValidated fails
// closed naming the row, and audit verify reports it.
func TestRequireValidatedFailsClosedOnTampering(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		v := w.validate(t, "acme-widgets.com", "dns-change")
		if _, err := w.App.DB.Exec(ctx, `UPDATE domain_validations SET domain = 'evil-corp.com' WHERE id = ?`, v.ID); err != nil {
			t.Fatal(err)
		}
		_, err := w.App.Domains.RequireValidated(ctx, w.App.DB, w.AccID, []string{"evil-corp.com"}, w.Clock.Now())
		if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindIntegrity || !strings.Contains(e.Message, v.ID) {
			t.Fatalf("tampered row relied on or error unclear: %v", err)
		}
		rep, err := auditVerify(w)
		if err != nil || rep.OK {
			t.Fatalf("audit verify missed the edit: %v %+v", err, rep)
		}
	})
}

// CAA at issuance (the part that does not need orders): CheckCAA
// refuses a SAN whose CAA forbids vetca, naming that SAN, with every SAN's
// result; RecordIssuance stores the links serial -> validations and every
// SAN's CAA result as evidence, inside the caller's transaction, and
// refuses CAA results older than BR §3.2.2.8 allows.
func TestCAAAtIssuanceAndRecordIssuance(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.validate(t, "acme-widgets.com", "dns-change")
		w.DNS.AddCAA("acme-widgets.com", 0, "issue", us)
		w.DNS.AddCAA("blocked.acme-widgets.com", 0, "issue", "other-ca.example")
		names := []string{"shop.acme-widgets.com", "blocked.acme-widgets.com", "www.acme-widgets.com"}
		res, err := w.App.Domains.CheckCAA(ctx, names)
		e := wantErr(t, err, apperr.KindForbidden, "dnsNames", "caa_forbidden")
		if !strings.Contains(e.Message, "CAA at blocked.acme-widgets.com forbids issuance for blocked.acme-widgets.com") || strings.Contains(e.Message, "shop.") {
			t.Fatalf("refusal %q", e.Message)
		}
		if len(res) != 3 || !res[0].Permitted || res[1].Permitted || !res[2].Permitted {
			t.Fatalf("results %+v", res)
		}
		// The order service keeps the refusal's evidence for every SAN.
		if err := w.App.DB.InTx(ctx, func(tx *store.Tx) error {
			return w.App.Domains.RecordCAAChecks(ctx, tx, w.Sub, "ord_refused", "", res)
		}); err != nil {
			t.Fatal(err)
		}
		stored, err := w.App.Domains.CAAChecksForOrder(ctx, w.App.DB, "ord_refused")
		if err != nil || len(stored) != 3 || stored[0].DNSName != "blocked.acme-widgets.com" || stored[0].Permitted {
			t.Fatalf("stored refusal evidence %+v %v", stored, err)
		}

		// Permitted: rely, check, record.
		names = []string{"shop.acme-widgets.com", "www.acme-widgets.com"}
		at := w.Clock.Now()
		rel, err := w.App.Domains.RequireValidated(ctx, w.App.DB, w.AccID, names, at)
		if err != nil {
			t.Fatal(err)
		}
		res, err = w.App.Domains.CheckCAA(ctx, names)
		if err != nil {
			t.Fatal(err)
		}
		const serial = "10a1b2c3d4e5f60718293a4b5c6d7e8f"
		record := func(serial string) error {
			return w.App.DB.InTx(ctx, func(tx *store.Tx) error {
				return w.App.Domains.RecordIssuance(ctx, tx, w.Sub, "ord_1", serial, rel, res)
			})
		}
		// BR §3.2.2.8: within 8 hours (or the CAA TTL) of the check.
		w.Clock.Advance(8*time.Hour + time.Second)
		wantErr(t, record("10ffff"), apperr.KindConflict, "dnsNames", "caa_stale")
		w.Clock.Set(at.Add(8 * time.Hour))
		if err := record(serial); err != nil {
			t.Fatal(err)
		}
		gotRel, gotCAA, err := w.App.Domains.IssuanceEvidence(ctx, w.App.DB, serial)
		if err != nil || len(gotRel) != 2 || len(gotCAA) != 2 {
			t.Fatalf("evidence %+v %+v %v", gotRel, gotCAA, err)
		}
		for i, n := range names {
			if gotRel[i].DNSName != n || gotRel[i].Method != "dns-change" || gotRel[i].MethodVersion != "1" || gotRel[i].Domain != "acme-widgets.com" {
				t.Fatalf("reliance %+v", gotRel[i])
			}
			if gotCAA[i].DNSName != n || !gotCAA[i].Permitted || gotCAA[i].RelevantName != "acme-widgets.com" || len(gotCAA[i].Evidence) == 0 {
				t.Fatalf("CAA evidence %+v", gotCAA[i])
			}
		}
		if n := count(t, w.Env, `SELECT COUNT(*) FROM certificate_domain_validations WHERE serial = '10ffff'`); n != 0 {
			t.Fatalf("a refused RecordIssuance left %d links", n)
		}
		// A CAA result that does not permit, or a SAN without one, is refused.
		bad := append([]validation.CAAResult(nil), res...)
		bad[1].Permitted = false
		err = w.App.DB.InTx(ctx, func(tx *store.Tx) error {
			return w.App.Domains.RecordIssuance(ctx, tx, w.Sub, "ord_2", "10eeee", rel, bad)
		})
		wantErr(t, err, apperr.KindForbidden, "dnsNames", "caa_forbidden")
		err = w.App.DB.InTx(ctx, func(tx *store.Tx) error {
			return w.App.Domains.RecordIssuance(ctx, tx, w.Sub, "ord_2", "10eeee", rel, res[:1])
		})
		wantErr(t, err, apperr.KindForbidden, "dnsNames", "caa_forbidden")
		auditClean(t, w.Env)
	})
}

// Without an issuer identity CAA is still checked for every name: vetca is
// named by no issue property, so only names without a CAA restriction pass.
func TestCheckCAAWithoutIdentity(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, backend, opt, func(c *app.Config) { c.CAAIdentities = nil; c.PublicURL = "http://127.0.0.1:8080" })
			if res, err := e.App.Domains.CheckCAA(ctx, []string{"www.acme-widgets.com"}); err != nil || !res[0].Permitted {
				t.Fatalf("no CAA records: %v %+v", err, res)
			}
			dns.AddCAA("acme-widgets.com", 0, "issue", "pki.vetca-test.com")
			_, err := e.App.Domains.CheckCAA(ctx, []string{"www.acme-widgets.com"})
			wantErr(t, err, apperr.KindForbidden, "dnsNames", "caa_forbidden")
		})
	}
}
