package validation_test

import (
	"slices"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation"
)

// issue records an issuance of serial for names as the order service does:
// RequireValidated, CheckCAA, then RecordIssuance in a transaction.
func (w *world) issue(t *testing.T, serial string, names ...string) {
	t.Helper()
	rel, err := w.App.Domains.RequireValidated(ctx, w.App.DB, w.AccID, names, w.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.App.Domains.CheckCAA(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.App.DB.InTx(ctx, func(tx *store.Tx) error {
		return w.App.Domains.RecordIssuance(ctx, tx, w.Sub, "ord_"+serial, serial, rel, res)
	}); err != nil {
		t.Fatal(err)
	}
}

// A query lists the domain validations and the
// certificates that relied on a given method version, or on a time window
// of a method (BR §3.2.2.4: the method and version are recorded so that
// this question can be answered after a validation bug).
func TestSearchByMethodVersionAndWindow(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ws := newWebsite(t)
		web := w.service(t, w.DNS.Addr(), ws.port, time.Second, nil)
		t0 := w.Clock.Now()
		dv1 := w.validate(t, "acme-widgets.com", "dns-change")
		w.Clock.Set(t0.Add(time.Hour))
		w.DNS.AddA("site.acme-gadgets.com", "127.0.0.1")
		dv2, err := web.Start(ctx, w.Sub, w.AccID, "site.acme-gadgets.com", "website-change")
		if err != nil {
			t.Fatal(err)
		}
		ws.serve("site.acme-gadgets.com", dv2.RandomValue)
		if a, err := web.Validate(ctx, w.Sub, w.AccID, dv2.ID); err != nil || a.Status != "valid" {
			t.Fatalf("%v %+v", err, a)
		}
		w.Clock.Set(t0.Add(48 * time.Hour))
		dv3 := w.validate(t, "acme-tools.com", "dns-change")
		// A validation that never succeeded is not listed.
		if _, err := w.App.Domains.Start(ctx, w.Sub, w.AccID, "never.acme-tools.com", "dns-change"); err != nil {
			t.Fatal(err)
		}
		w.issue(t, "10aa", "shop.acme-widgets.com")
		w.issue(t, "10bb", "site.acme-gadgets.com")
		w.issue(t, "10cc", "www.acme-tools.com", "acme-tools.com", "www.acme-widgets.com")

		auditor := actor.Actor{Kind: actor.Staff, Name: "audrey", Roles: []actor.Role{actor.Auditor}}
		day1 := t0.Add(24 * time.Hour).Format(time.RFC3339)
		cases := []struct {
			name         string
			in           validation.SearchInput
			validations  []string
			certificates []string
		}{
			{"dns-change v1", validation.SearchInput{Method: "dns-change", Version: "1"}, []string{dv1.ID, dv3.ID}, []string{"10aa", "10cc"}},
			{"dns-change, any version", validation.SearchInput{Method: "dns-change"}, []string{dv1.ID, dv3.ID}, []string{"10aa", "10cc"}},
			{"dns-change v2 (no such version yet)", validation.SearchInput{Method: "dns-change", Version: "2"}, nil, nil},
			{"website-change v3", validation.SearchInput{Method: "website-change", Version: "3"}, []string{dv2.ID}, []string{"10bb"}},
			{"website-change v2 (before redirects were kept in the directory)", validation.SearchInput{Method: "website-change", Version: "2"}, nil, nil},
			{"website-change v1 (before the egress policy)", validation.SearchInput{Method: "website-change", Version: "1"}, nil, nil},
			{"dns-change since day 1", validation.SearchInput{Method: "dns-change", Since: day1}, []string{dv3.ID}, []string{"10cc"}},
			{"dns-change until day 1", validation.SearchInput{Method: "dns-change", Until: day1}, []string{dv1.ID}, []string{"10aa", "10cc"}},
			{"dns-change in a window with nothing", validation.SearchInput{Method: "dns-change", Since: t0.Add(2 * time.Hour).Format(time.RFC3339), Until: day1}, nil, nil},
		}
		for _, c := range cases {
			res, err := w.App.Domains.Search(ctx, auditor, c.in)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var got []string
			for _, v := range res.Validations {
				got = append(got, v.ID)
				if v.Method != c.in.Method || v.ValidatedAt == nil {
					t.Fatalf("%s: %+v", c.name, v)
				}
			}
			slices.Sort(got)
			want := slices.Clone(c.validations)
			slices.Sort(want)
			if !slices.Equal(got, want) || !slices.Equal(res.Certificates, c.certificates) {
				t.Fatalf("%s: validations %v certificates %v, want %v %v", c.name, got, res.Certificates, want, c.certificates)
			}
		}
		// Per validation: the serials that relied on it.
		res, err := w.App.Domains.Search(ctx, auditor, validation.SearchInput{Method: "dns-change", Version: "1"})
		if err != nil || len(res.Validations) == 0 {
			t.Fatalf("search: %v %+v", err, res)
		}
		for _, v := range res.Validations {
			want := map[string][]string{dv1.ID: {"10aa", "10cc"}, dv3.ID: {"10cc"}}[v.ID]
			if !slices.Equal(v.Certificates, want) {
				t.Fatalf("validation %s relied on by %v, want %v", v.ID, v.Certificates, want)
			}
		}

		bad := []struct {
			in    validation.SearchInput
			kind  apperr.Kind
			field string
			code  apperr.Code
		}{
			{validation.SearchInput{}, apperr.KindInvalid, "method", "missing_field"},
			{validation.SearchInput{Method: "email"}, apperr.KindInvalid, "method", "unknown_method"},
			{validation.SearchInput{Method: "dns-change", Since: "yesterday"}, apperr.KindInvalid, "since", "invalid_time"},
			{validation.SearchInput{Method: "dns-change", Until: "2026-13-01T00:00:00Z"}, apperr.KindInvalid, "until", "invalid_time"},
			{validation.SearchInput{Method: "dns-change", Since: day1, Until: day1}, apperr.KindInvalid, "until", "invalid_window"},
		}
		for _, b := range bad {
			_, err := w.App.Domains.Search(ctx, auditor, b.in)
			wantErr(t, err, b.kind, b.field, b.code)
		}
		_, err = w.App.Domains.Search(ctx, w.Sub, validation.SearchInput{Method: "dns-change"})
		wantErr(t, err, apperr.KindForbidden, "", "forbidden")
		auditClean(t, w.Env)
	})
}
