package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/pelletier/go-toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
)

// globals are the flags every data command shares.
type globals struct {
	db         string
	jsonOut    bool
	configFile string
	logLevel   string
	cfg        app.Config
	stdout     io.Writer
	stderr     io.Writer
	// clock is the process clock; tests of the CLI swap it.
	clock clock.Clock
}

// newRootWith is the vetca command, writing to g's output streams and
// reading g's clock (tests swap them).
func newRootWith(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "vetca",
		Short: "vetca: the software an organization-validated TLS certificate authority runs on",
		Long: `vetca vets organizations, issues OV TLS certificates under dual control,
revokes them with CRLs and OCSP, runs the BR problem-report clocks (vetca
deadlines lists the open obligations), and keeps
a tamper-evident audit trail of every write.

Every command that touches data takes --db DSN (or VETCA_DB): sqlite:PATH or a
postgres:// URL; the default is sqlite:vetca.db. Flags may also come from a
TOML file (--config FILE, keys are flag names) or VETCA_* variables
(VETCA_PUBLIC_URL for --public-url). Exit codes: 0 success, 1 failure or
finding, 2 usage error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.resolve(cmd)
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v (see %s --help)", err, c.CommandPath())
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.db, "db", "", "database DSN: sqlite:PATH or postgres://... (default sqlite:vetca.db; env VETCA_DB)")
	pf.BoolVar(&g.jsonOut, "json", false, "print one JSON document on stdout")
	pf.StringVar(&g.configFile, "config", "", "TOML file of flag values (keys are flag names)")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&g.cfg.KeyDir, "key-dir", "", "directory of file keys (default: next to a SQLite database, else ./vetca-keys)")
	pf.StringVar(&g.cfg.AuditKey, "audit-key", "", "the audit key that signs every event and checkpoint: a file, or a pkcs11: URI (default KEY-DIR/audit.key)")
	pf.StringVar(&g.cfg.AuditPublicKey, "audit-public-key", "", "the installation's pinned audit public key, against which everything read is checked (default KEY-DIR/audit.pub)")
	pf.StringVar(&g.cfg.EABSecret, "eab-secret", "", "the installation's EAB secret (32 bytes, mode 0600), from which EAB keys are derived; never in the database (default KEY-DIR/eab.secret)")
	pf.StringVar(&g.cfg.CheckpointDir, "checkpoint-dir", "", "directory of signed audit checkpoints, outside the database (default KEY-DIR/checkpoints)")
	pf.StringVar(&g.cfg.PKCS11Module, "pkcs11-module", "", "PKCS#11 module for pkcs11: key URIs without module-path")
	pf.StringVar(&g.cfg.PKCS11PIN, "pkcs11-pin", "", "PKCS#11 user PIN (prefer VETCA_PKCS11_PIN or pin-source in the URI)")

	root.AddCommand(newInitCmd(g), newServeCmd(g), newUserCmd(g), newAuditCmd(g), newPerspectiveCmd(g), newCeremonyCmd(g), newCRLCmd(g), newBenchCmd(g), newDeadlinesCmd(g), newScanCmd(g), newIncidentCmd(g), newEABCmd(g))
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.SetHelpCommand(newHelpCmd())
	// Both now, so that strictUsage and unknownBeforeHelp see them (`vetca
	// help --help` is not an unknown command).
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	strictUsage(root)
	// A group runs only to refuse being run without a subcommand: its
	// usage shows only "vetca GROUP [command]".
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	return root
}

// resolve fills flags from VETCA_* variables and the config file, in that
// order of precedence below explicit flags, and validates --log-level.
func (g *globals) resolve(cmd *cobra.Command) error {
	var fileVals map[string]any
	if g.configFile == "" {
		g.configFile = os.Getenv("VETCA_CONFIG")
	}
	if g.configFile != "" {
		t, err := toml.LoadFile(g.configFile)
		if err != nil {
			return usageErr("--config %s: %v", g.configFile, err)
		}
		fileVals = t.ToMap()
		for k := range fileVals {
			if cmd.Flags().Lookup(k) == nil {
				return usageErr("--config %s: unknown key %q for %s", g.configFile, k, cmd.CommandPath())
			}
		}
	}
	var ferr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if ferr != nil || f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		env := "VETCA_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := setFlag(f, v); err != nil {
				ferr = usageErr("%s=%q: %v", env, v, err)
			}
			return
		}
		if v, ok := fileVals[f.Name]; ok {
			var s string
			switch x := v.(type) {
			case []any:
				parts := make([]string, len(x))
				for i, p := range x {
					parts[i] = fmt.Sprint(p)
				}
				s = strings.Join(parts, ",")
			default:
				s = fmt.Sprint(x)
			}
			if err := setFlag(f, s); err != nil {
				ferr = usageErr("--config %s: %s: %v", g.configFile, f.Name, err)
			}
		}
	})
	if ferr != nil {
		return ferr
	}
	switch g.logLevel {
	case "debug", "info", "warn", "error":
	default:
		return usageErr("--log-level %q: must be debug, info, warn or error", g.logLevel)
	}
	g.cfg.DB = g.db
	// A flag value the configuration refuses (--public-url, --session-idle,
	// --trusted-proxy, ...) is a usage error, found before anything opens.
	cfg := g.cfg
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return usageErr("%v", err)
	}
	return nil
}

func setFlag(f *pflag.Flag, v string) error {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		var parts []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		return sv.Replace(parts)
	}
	return f.Value.Set(v)
}

func (g *globals) logger() *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(g.logLevel))
	return slog.New(slog.NewJSONHandler(g.stderr, &slog.HandlerOptions{Level: lvl}))
}

// open opens the app with opts. Only init (and serve --dev, which
// initializes) may create a SQLite database: any other command given a
// path where there is none (a typo, another directory) refuses before
// SQLite leaves an empty database file there.
func (g *globals) open(ctx context.Context, opts app.Options) (*app.App, error) {
	dsn := g.cfg.DB
	if dsn == "" {
		dsn = store.DefaultDSN
	}
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok && path != "" && !opts.CreateAuditKey {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("database %s does not exist (--db, VETCA_DB): run `vetca init --db %s` first, or point --db at the installation's database", dsn, dsn)
		}
	}
	return app.Open(ctx, g.cfg, g.clock, g.logger(), opts)
}

// cliActor is the operator running a local command.
func cliActor() actor.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return actor.CLIActor(name)
}

// printJSON writes v as one JSON document.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// say prints a line for people (suppressed with --json).
func (g *globals) say(format string, args ...any) {
	if !g.jsonOut {
		fmt.Fprintf(g.stdout, format+"\n", args...)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// withApp adapts a command body that only reads to cobra's RunE: it opens
// the app (no migration: only init and serve own the schema).
func (g *globals) withApp(fn func(ctx context.Context, a *app.App, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a, err := g.open(cmd.Context(), app.Options{})
		if err != nil {
			return err
		}
		defer a.Close()
		return fn(cmd.Context(), a, args)
	}
}

// withWriter is withApp for a command that writes: it opens the audit key
// and refuses, before anything is written, without it. Stopped by SIGINT
// (Ctrl-C) or SIGTERM, the command's context ends, so that it stops
// between transactions and markHead still covers what it committed; a
// second signal ends the process at once.
func (g *globals) withWriter(fn func(ctx context.Context, a *app.App, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		context.AfterFunc(ctx, stop)
		a, err := g.open(ctx, app.Options{Write: true})
		if err != nil {
			return err
		}
		defer a.Close()
		if err := a.RequireAuditKey(); err != nil {
			return err
		}
		return markHead(ctx, a, fn(ctx, a, args))
	}
}

// markHead raises this host's head-seen mark to the chain head once a
// command has written (audit.Checkpointer.MarkHead), so that the events
// it wrote cannot be deleted outside vetca unnoticed before the next
// checkpoint. err is the command's own error, returned as it is. A command
// that ended with findings (exit 1: vetca scan, whose findings are audited
// rows), failed, or was stopped may have committed writes before it ended
// (a scan's earlier batches), so the mark is raised then too, past the
// command's own context; a mark that fails then is logged, the command's
// error kept.
func markHead(ctx context.Context, a *app.App, err error) error {
	if a.Checkpoints == nil {
		return err
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	mErr := a.Checkpoints.MarkHead(mctx)
	if err == nil {
		return mErr
	}
	if mErr != nil {
		a.Log.Warn("raising the head-seen mark after a command that ended with an error", "err", mErr)
	}
	return err
}

// markTimeout bounds raising the head-seen mark after a command.
const markTimeout = 30 * time.Second
