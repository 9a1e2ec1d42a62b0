package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/signer"
	"github.com/vetca/vetca/internal/store"
)

// DefaultVerifyEvery is how often serve verifies the whole audit trail.
const DefaultVerifyEvery = time.Hour

// LeaseAuditVerify is the lease that makes one replica at a time run the
// scheduled verification.
const LeaseAuditVerify = "audit-verify"

// openAuditKeys loads the pinned audit public key and, for a process that
// may write, the private audit key. init (create) generates both when neither exists. A
// key directory from before public keys were pinned gets its pin now. A
// process that may write must hold the key that began the database's
// trail: a key directory of another installation is refused up front.
func openAuditKeys(ctx context.Context, cfg Config, db *store.DB, write, create bool, log *slog.Logger) (*audit.PublicKey, *audit.Key, bool, error) {
	pub, err := audit.LoadPublicKey(cfg.AuditPublicKey)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, false, err
	}
	var key *audit.Key
	var created bool
	if create && pub == nil {
		// A key is made only for a trail not yet begun: for one begun with
		// another key the command is refused below, and must not leave a
		// new key pair behind in this key directory.
		first, begun, err := audit.FirstKeyID(ctx, db)
		if err != nil {
			return nil, nil, false, err
		}
		if begun {
			if _, err := os.Stat(cfg.AuditKey); errors.Is(err, os.ErrNotExist) && !strings.HasPrefix(cfg.AuditKey, "pkcs11:") {
				return nil, nil, false, fmt.Errorf("the audit trail of %s was begun with audit key %q, and %s holds no audit key (--key-dir, --audit-key): point them at the installation's key directory", db.DSN(), first, cfg.AuditKey)
			}
			create = false
		}
	}
	if write || pub == nil {
		if key, created, err = openAuditKey(cfg, create && pub == nil); err != nil {
			return nil, nil, false, err
		}
	}
	if pub, err = checkAuditKeys(ctx, cfg, db, pub, key, created, write, log); err != nil {
		closeKey(key) // the one place a refused key is released
		return nil, nil, false, err
	}
	if !write {
		// Only pinning needed the key (a key directory from before pins).
		closeKey(key)
		key = nil
	}
	return pub, key, created, nil
}

// checkAuditKeys pins the public half of key when nothing is pinned yet,
// refuses a key that is not the pinned one and, for a process that writes,
// a trail begun with another key. It returns the public key to check
// against and never closes key: openAuditKeys does on error.
func checkAuditKeys(ctx context.Context, cfg Config, db *store.DB, pub *audit.PublicKey, key *audit.Key, created, write bool, log *slog.Logger) (*audit.PublicKey, error) {
	if created {
		pub = key.Public()
	}
	switch {
	case pub == nil && key != nil && cfg.AuditPublicKey != filepath.Join(cfg.KeyDir, "audit.pub"):
		// Pinned on first use only where the pin belongs: a path given
		// with --audit-public-key that holds nothing is a mistake, not a
		// key directory from before pins.
		return nil, fmt.Errorf("no audit public key at %s (--audit-public-key)", cfg.AuditPublicKey)
	case pub == nil && key != nil:
		if err := audit.PinPublicKey(cfg.AuditPublicKey, key.Public()); err != nil {
			return nil, err
		}
		log.Info("pinned the audit public key", "path", cfg.AuditPublicKey, "key_id", key.Public().ID())
		pub = key.Public()
	case pub == nil:
		return nil, fmt.Errorf("no audit public key at %s (--audit-public-key) and no audit key at %s (--audit-key): run `vetca init`, which creates them, or point --key-dir at the installation's key directory", cfg.AuditPublicKey, cfg.AuditKey)
	case key != nil && !key.Public().Equal(pub):
		return nil, fmt.Errorf("audit key %s (key id %s) is not the key pinned at %s (key id %s)", key.URI(), key.Public().ID(), cfg.AuditPublicKey, pub.ID())
	}
	if !write || key == nil {
		return pub, nil
	}
	firstEvent, any, err := audit.FirstEvent(ctx, db)
	first := firstEvent.KeyID
	switch {
	case err != nil:
		return nil, err
	case !any:
		return pub, refuseOrphanCheckpoints(ctx, cfg, db, pub)
	case first == "":
		return nil, fmt.Errorf("the audit trail of %s begins with an unsigned event: it predates signed audit events (or its first event was edited) and cannot be extended; verify it with `vetca audit verify`, and start a new database (for a --dev database, remove it and its key directory)", db.DSN())
	case first != pub.ID():
		return nil, fmt.Errorf("the audit trail of %s was begun with audit key %q, but this key directory's key is %s: it belongs to another installation, or the trail was tampered with (run `vetca audit verify` with the installation's keys)", db.DSN(), first, pub.ID())
	case !firstEvent.VerifySignature(pub):
		// Its key id is a column anyone can set: a trail of another
		// installation, its first event's key id set to this key's, is
		// refused here too, before anything is written.
		return nil, fmt.Errorf("the first event of the audit trail of %s names audit key %s but does not verify under it: it belongs to another installation, or the trail was tampered with (run `vetca audit verify` with the installation's keys)", db.DSN(), pub.ID())
	}
	return pub, nil
}

// refuseOrphanCheckpoints refuses to begin a trail in db while a checkpoint
// signed by the same key covers events: a checkpoint pins the trail it was
// signed over, so a new trail under it reads as the old one truncated or
// rebuilt (what checkpoints exist to catch), and the sealer and the
// checkpointer would refuse to go past it. Either the trail was emptied
// outside vetca, or a new database was given an installation's key
// directory; both are the operator's to settle before anything is written.
func refuseOrphanCheckpoints(ctx context.Context, cfg Config, db *store.DB, pub *audit.PublicKey) error {
	cp, err := audit.NewestCheckpoint(ctx, db, cfg.CheckpointDir, pub)
	if err != nil || cp == nil {
		return err
	}
	return fmt.Errorf("the audit trail of %s is empty, but a checkpoint signed by this audit key covers events up to %d (%s, signed %s): "+
		"either the trail was deleted outside vetca (restore the database from its backup), or this is a new database given another database's key directory "+
		"(give it a key directory of its own with --key-dir, or its own --checkpoint-dir; for a --dev database, remove it and its key directory)",
		db.DSN(), cp.Seq, cp.Source, cp.At)
}

// openAuditKey opens the private key named by cfg.AuditKey, or returns nil
// when there is none. With generate, a missing key is created (and its
// public half pinned): an Ed25519 file key, or an ECDSA P-256 key on the
// HSM for a pkcs11: URI.
func openAuditKey(cfg Config, generate bool) (*audit.Key, bool, error) {
	if strings.HasPrefix(cfg.AuditKey, "pkcs11:") {
		k, err := audit.OpenKey(cfg.AuditKey, cfg.SignerConfig())
		if err == nil || !generate || !errors.Is(err, signer.ErrNoKey) {
			// Only a key that is not there is created; a wrong PIN or a
			// refused key is the operator's to see.
			return k, false, err
		}
		// Where its public half is pinned must exist before the key is
		// made, so that a new key is never left on the token unpinned.
		if err := os.MkdirAll(filepath.Dir(cfg.AuditPublicKey), 0o755); err != nil {
			return nil, false, fmt.Errorf("audit public key directory %s: %w", filepath.Dir(cfg.AuditPublicKey), err)
		}
		s, gerr := signer.GeneratePKCS11(cfg.AuditKey, cfg.SignerConfig(), signer.ECDSAP256)
		if gerr != nil {
			return nil, false, fmt.Errorf("audit key: %w", gerr)
		}
		s.Close()
		k, err = audit.OpenKey(cfg.AuditKey, cfg.SignerConfig())
		if err != nil {
			return nil, false, err
		}
		if err := audit.PinPublicKey(cfg.AuditPublicKey, k.Public()); err != nil {
			k.Close()
			return nil, false, err
		}
		return k, true, nil
	}
	if _, err := os.Stat(cfg.AuditKey); errors.Is(err, os.ErrNotExist) {
		if !generate {
			return nil, false, nil
		}
		if err := os.MkdirAll(filepath.Dir(cfg.AuditKey), 0o700); err != nil {
			return nil, false, fmt.Errorf("key directory %s: %w", filepath.Dir(cfg.AuditKey), err)
		}
		if err := os.MkdirAll(filepath.Dir(cfg.AuditPublicKey), 0o755); err != nil {
			return nil, false, fmt.Errorf("audit public key directory %s: %w", filepath.Dir(cfg.AuditPublicKey), err)
		}
		k, err := audit.GenerateKey(cfg.AuditKey, cfg.AuditPublicKey)
		return k, err == nil, err
	}
	k, err := audit.OpenKey(cfg.AuditKey, cfg.SignerConfig())
	return k, false, err
}

func closeKey(k *audit.Key) {
	if k != nil {
		_ = k.Close()
	}
}

// VerifyAudit verifies the whole trail as the local operator (see
// audit.Service.Verify).
func (a *App) VerifyAudit(ctx context.Context, file string) (*audit.Report, error) {
	return a.Audit.Verify(ctx, actor.SystemActor("audit-verify"), file)
}

// AuditWatch is serve's scheduled verification: it exports the outcome as
// Prometheus gauges and mails the compliance team when findings appear or
// change.
type AuditWatch struct {
	app        *App
	findings   prometheus.Gauge
	ok         prometheus.Gauge
	lastRun    prometheus.Gauge
	lastMailed string
}

func newAuditWatch(a *App) *AuditWatch {
	w := &AuditWatch{
		app: a,
		findings: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vetca_audit_findings",
			Help: "Findings of the last scheduled audit verification (0 when the trail is intact)."}),
		ok: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vetca_audit_verify_ok",
			Help: "1 when the last scheduled audit verification found the trail intact, else 0."}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vetca_audit_verify_last_run_timestamp_seconds",
			Help: "When the last scheduled audit verification finished."}),
	}
	a.Metrics.MustRegister(w.findings, w.ok, w.lastRun)
	return w
}

// SettingAuditVerify records the outcome of the last scheduled
// verification (verifyOutcome, JSON), so that every replica's gauges say
// what the one that ran it found.
const SettingAuditVerify = "audit_verify"

// verifyOutcome is a scheduled verification's outcome, as recorded.
type verifyOutcome struct {
	At       time.Time `json:"at"`
	OK       bool      `json:"ok"`
	Findings int       `json:"findings"`
}

// RunOnce verifies the trail if this replica holds the lease, records the
// outcome and returns the report. A replica that does not hold it returns
// nil, and sets its gauges from the outcome recorded by the one that
// does: every replica serves /metrics, and one that never verified, or
// lost the lease, would otherwise report "not intact" (the gauge's zero)
// or its own last outcome, fixed since, for good.
func (w *AuditWatch) RunOnce(ctx context.Context) (*audit.Report, error) {
	a := w.app
	ok, err := a.DB.AcquireLease(ctx, LeaseAuditVerify, a.Replica, a.Clock.Now(), a.Cfg.VerifyEvery+5*time.Minute)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, w.follow(ctx)
	}
	rep, err := a.VerifyAudit(ctx, "")
	if err != nil {
		return nil, err
	}
	out := verifyOutcome{At: a.Clock.Now().UTC(), OK: rep.OK, Findings: len(rep.Findings)}
	w.show(out)
	if rep.OK {
		w.lastMailed = ""
	} else if err := w.mail(ctx, rep); err != nil {
		return rep, err
	}
	b, err := json.Marshal(out)
	if err == nil {
		err = a.SetSetting(ctx, actor.SystemActor("audit-verify"), SettingAuditVerify, string(b))
	}
	if err != nil {
		return rep, fmt.Errorf("record the verification's outcome: %w", err)
	}
	return rep, nil
}

// show sets the gauges to an outcome.
func (w *AuditWatch) show(out verifyOutcome) {
	w.findings.Set(float64(out.Findings))
	w.ok.Set(0)
	if out.OK {
		w.ok.Set(1)
	}
	w.lastRun.Set(float64(out.At.Unix()))
}

// follow sets the gauges from the outcome the lease's holder recorded, if
// any. A recorded outcome that fails its integrity check is shown as not
// intact: the trail was edited outside vetca.
func (w *AuditWatch) follow(ctx context.Context) error {
	a := w.app
	v, found, err := getSetting(ctx, a.Recorder, a.DB, SettingAuditVerify)
	if apperr.IsKind(err, apperr.KindIntegrity) {
		w.ok.Set(0)
		return nil
	}
	if err != nil || !found {
		return err
	}
	var out verifyOutcome
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return fmt.Errorf("the recorded outcome of the audit verification: %w", err)
	}
	w.show(out)
	return nil
}

// mail tells compliance about findings, once per distinct set.
func (w *AuditWatch) mail(ctx context.Context, rep *audit.Report) error {
	a := w.app
	lines := make([]string, len(rep.Findings))
	for i, f := range rep.Findings {
		lines[i] = f.String()
	}
	sort.Strings(lines)
	fp := strings.Join(lines, "\n")
	if fp == w.lastMailed || a.Cfg.ComplianceEmail == "" {
		return nil
	}
	const maxLines = 100
	body := fmt.Sprintf("The scheduled verification of the audit trail found %d problem(s) in %d events.\n"+
		"Rows or events were written or changed outside vetca, or the chain no longer matches a signed checkpoint.\n"+
		"Run `vetca audit verify` for the full report.\n\n", len(lines), rep.Events)
	shown := lines
	if len(shown) > maxLines {
		shown = shown[:maxLines]
	}
	body += strings.Join(shown, "\n") + "\n"
	if len(lines) > maxLines {
		body += fmt.Sprintf("... and %d more\n", len(lines)-maxLines)
	}
	err := a.DB.InTx(ctx, func(tx *store.Tx) error {
		_, err := a.Outbox.Enqueue(ctx, tx, actor.SystemActor("audit-verify"), notify.Message{
			To: a.Cfg.ComplianceEmail, Subject: fmt.Sprintf("[vetca] audit trail NOT intact: %d finding(s)", len(lines)), Body: body,
			Kind: "audit_findings", RecipientRole: "compliance", RefType: "audit", RefID: rep.Head,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("mail audit findings: %w", err)
	}
	w.lastMailed = fp
	return nil
}

// Run verifies every interval until ctx ends, and then gives the lease
// back, as every leased loop does, so another replica's next pass
// verifies at once instead of waiting for it to expire.
func (w *AuditWatch) Run(ctx context.Context, every time.Duration) {
	defer func() {
		if err := w.app.DB.ReleaseLease(context.WithoutCancel(ctx), LeaseAuditVerify, w.app.Replica); err != nil {
			w.app.Log.Warn("release the audit-verify lease", "err", err)
		}
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if rep, err := w.RunOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.app.Log.Error("scheduled audit verification failed", "err", err)
		} else if rep != nil && !rep.OK {
			w.app.Log.Error("audit trail NOT intact", "findings", len(rep.Findings))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// wireAudit builds serve's checkpointer (when the process holds the audit
// key) and the scheduled verification.
func (a *App) wireAudit() {
	a.Audit = audit.NewService(a.DB, a.Recorder, a.Cfg.CheckpointDir, a.OCSP.CheckCache, a.CRLs.CheckFiles)
	if a.AuditKey != nil {
		a.Checkpoints = audit.NewCheckpointer(a.DB, a.Recorder, a.Clock, audit.CheckpointerConfig{
			Dir: a.Cfg.CheckpointDir, Every: a.Cfg.CheckpointEvery, Burst: a.Cfg.CheckpointBurst, Holder: a.Replica,
		}, a.Log)
		a.Sealer = audit.NewSealer(a.DB, a.Recorder, a.Log, a.Replica, a.Cfg.CheckpointDir)
	}
	a.AuditWatch = newAuditWatch(a)
}
