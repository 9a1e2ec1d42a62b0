package web_test

import (
	"context"
	"crypto/x509/pkix"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// browser starts headless Chromium, or skips visibly (fails in CI, where
// VETCA_TEST_REQUIRE_BROWSER=1).
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("VETCA_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatal("chromium is not installed but VETCA_TEST_REQUIRE_BROWSER=1")
		}
		t.Skip("browser tests skipped: install Debian's chromium (.ci/run does)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		// Chromium's own scratch files (org.chromium.Chromium.*) go to the
		// test's directory, not the machine's /tmp.
		chromedp.Env("TMPDIR="+t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.NoFirstRun)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// eachBackend runs a browser test on SQLite and on PostgreSQL.
func eachBackend(t *testing.T, fn func(t *testing.T, backend string)) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) { fn(t, b) })
	}
}

func signIn(base, name, token string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("stat-orgs")),
	)
}

func signOut() chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Click(chromedp.CSS(`header form button`)), chromedp.WaitVisible(chromedp.ID("token")))
}

// A verifier records an organization in the console; XX is refused naming
// countryName; the proposer cannot verify it; two other verifiers do, each
// in their own session, and the page then shows the verified version.
func TestConsoleVettingInBrowser(t *testing.T) { eachBackend(t, testConsoleVettingInBrowser) }

func testConsoleVettingInBrowser(t *testing.T, backend string) {
	ctx := browser(t)
	e := apptest.New(t, backend)
	alice := e.User("alice", actor.Verifier)
	bob := e.User("bob", actor.Verifier)
	carol := e.User("carol", actor.Verifier, actor.Compliance)
	base := e.Server.URL

	fill := chromedp.Steps(
		chromedp.SendKeys(chromedp.ID("organizationName"), "Acme Widgets Inc."),
		chromedp.SendKeys(chromedp.ID("stateOrProvinceName"), "California"),
		chromedp.SendKeys(chromedp.ID("localityName"), "San Francisco"),
	)
	err := chromedp.Do(ctx,
		signIn(base, "alice", alice),
		chromedp.Navigate(base+"/console/organizations"),
		chromedp.WaitVisible(chromedp.ID("create-org")),
		fill,
		// The select offers only real countries; force a placeholder the way a
		// crafted form post would.
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`(() => { const s = document.getElementById('countryName'); const o = document.createElement('option'); o.value = 'XX'; s.appendChild(o); s.value = 'XX'; return null })()`)(ctx, tg)
			return err
		}),
		chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("error")),
	)
	if err != nil {
		t.Fatal(err)
	}
	errText, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("error")))
	if err != nil || !strings.Contains(errText, "countryName") || !strings.Contains(errText, "XX") {
		t.Fatalf("XX refused with %q (%v)", errText, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/console/organizations"),
		chromedp.WaitVisible(chromedp.ID("create-org")),
		fill,
		chromedp.SetValue(chromedp.ID("countryName"), "US"),
		chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("pending-1")),
	)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	loc, _, _ = strings.Cut(loc, "?")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#pending-1 input[name="source"]`), "Secretary of State"),
		chromedp.SendKeys(chromedp.CSS(`#pending-1 input[name="reference"]`), "C1234567"),
		chromedp.Click(chromedp.CSS(`#pending-1 button.verify`)),
		chromedp.WaitVisible(chromedp.ID("error")),
	)
	if err != nil {
		t.Fatal(err)
	}
	errText, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("error")))
	if !strings.Contains(errText, "another verifier") {
		t.Fatalf("self verification: %q", errText)
	}
	for name, tok := range map[string]string{"bob": bob, "carol": carol} {
		err = chromedp.Do(ctx,
			signOut(),
			signIn(base, name, tok),
			chromedp.Navigate(loc),
			chromedp.WaitVisible(chromedp.ID("pending-1")),
			chromedp.SendKeys(chromedp.CSS(`#pending-1 input[name="source"]`), "Secretary of State"),
			chromedp.SendKeys(chromedp.CSS(`#pending-1 input[name="reference"]`), "C1234567"),
			chromedp.Click(chromedp.CSS(`#pending-1 button.verify`)),
			chromedp.WaitVisible(chromedp.ID("flash")),
		)
		if err != nil {
			t.Fatal(err)
		}
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("current")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status, "verified") || !strings.Contains(status, "Acme Widgets Inc.") || !strings.Contains(status, "bob") || !strings.Contains(status, "carol") {
		t.Fatalf("current version after two verifications: %q", status)
	}
}

// Two verifiers approve an order in the console, each seeing the snapshot
// hash they approve; one finalizes; the certificate page shows the chain of
// evidence.
func TestConsoleOrderApprovalInBrowser(t *testing.T) {
	eachBackend(t, testConsoleOrderApprovalInBrowser)
}

func testConsoleOrderApprovalInBrowser(t *testing.T, backend string) {
	ctx := browser(t)
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, backend, opt)
	f := apptest.NewOrderFixture(t, e, dns, "shop.acme-widgets.com")
	r := f.PlaceOrder(map[string]any{"dnsNames": []string{"shop.acme-widgets.com"},
		"csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, "shop.acme-widgets.com")})
	id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
	base := e.Server.URL
	for i, who := range []struct{ name, token string }{{"bob", f.Bob}, {"carol", f.Carol}} {
		steps := []chromedp.Action[chromedp.Void]{signIn(base, who.name, who.token), chromedp.Navigate(base + "/console/orders/" + id), chromedp.WaitVisible(chromedp.ID("snapshot-hash"))}
		if i > 0 {
			steps = append([]chromedp.Action[chromedp.Void]{signOut()}, steps...)
		}
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
		shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("snapshot-hash")))
		if err != nil || shown != hash {
			t.Fatalf("the page shows snapshot %q, want %q (%v)", shown, hash, err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("approve-submit")), chromedp.WaitVisible(chromedp.ID("flash"))); err != nil {
			t.Fatal(err)
		}
	}
	status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("order-status")))
	if status != "approved" {
		t.Fatalf("order status %q after two approvals", status)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("finalize-submit")), chromedp.WaitVisible(chromedp.ID("evidence"))); err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"valid", "Chain of evidence", "bob", "carol", hash, "dns-change", "permitted"} {
		if !strings.Contains(body, want) {
			t.Errorf("certificate page lacks %q", want)
		}
	}
}

// A staff user rotates their own token on My account: the new token is
// shown once, the browser stays signed in (with a session on the new
// token), and after signing out the new token signs in while the old one
// does not.
func TestConsoleRotateOwnTokenInBrowser(t *testing.T) {
	eachBackend(t, testConsoleRotateOwnTokenInBrowser)
}

func testConsoleRotateOwnTokenInBrowser(t *testing.T, backend string) {
	ctx := browser(t)
	e := apptest.New(t, backend)
	alice := e.User("alice", actor.Verifier)
	base := e.Server.URL
	err := chromedp.Do(ctx,
		signIn(base, "alice", alice),
		chromedp.Click(chromedp.ID("nav-me")),
		chromedp.WaitVisible(chromedp.ID("rotate")),
		chromedp.Click(chromedp.ID("rotate")),
		chromedp.WaitVisible(chromedp.ID("new-token")),
	)
	if err != nil {
		t.Fatal(err)
	}
	newTok, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("new-token")))
	if err != nil || !strings.HasPrefix(newTok, "vetca_") || newTok == alice {
		t.Fatalf("new token %q (%v)", newTok, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/console"),
		chromedp.WaitVisible(chromedp.ID("stat-orgs")),
		signOut(),
		chromedp.SendKeys(chromedp.ID("name"), "alice"),
		chromedp.SendKeys(chromedp.ID("token"), alice),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("error")),
		signIn(base, "alice", newTok),
	)
	if err != nil {
		t.Fatal(err)
	}
}
