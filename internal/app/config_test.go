package app

import (
	"strings"
	"testing"
	"time"
)

// The console session flags and --trusted-proxy are checked before
// anything opens.
func TestConsoleConfigValidation(t *testing.T) {
	for _, c := range []struct {
		name    string
		set     func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"idle too short", func(c *Config) { c.SessionIdle = time.Minute }, "--session-idle"},
		{"max age under idle", func(c *Config) { c.SessionIdle, c.SessionMaxAge = time.Hour, 30*time.Minute }, "--session-max-age"},
		{"max age over a week", func(c *Config) { c.SessionMaxAge = 200 * time.Hour }, "--session-max-age"},
		{"proxies", func(c *Config) {
			c.TrustedProxies = []string{"10.0.0.1", "192.168.0.0/16", "2001:db8::/32", "::ffff:10.1.2.3"}
		}, ""},
		{"bad proxy", func(c *Config) { c.TrustedProxies = []string{"proxy.internal"} }, "--trusted-proxy"},
	} {
		cfg := Config{PublicURL: "http://pki.vetca-test.com"}
		c.set(&cfg)
		cfg.Defaults()
		err := cfg.Validate()
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.wantErr)
		}
	}
	cfg := Config{TrustedProxies: []string{"10.0.0.1", "::ffff:10.1.2.3", "192.168.7.0/16"}}
	ps, err := cfg.trustedProxies()
	if err != nil || len(ps) != 3 || ps[0].String() != "10.0.0.1/32" || ps[1].String() != "10.1.2.3/32" || ps[2].String() != "192.168.0.0/16" {
		t.Fatalf("parsed %v (%v)", ps, err)
	}
}

// The loop intervals default to the production constants, refuse
// non-positive values and a heartbeat that could let the replica lease
// lapse; and the rest of the config is checked even before the public URL
// is resolved from the database.
func TestLoopIntervalConfig(t *testing.T) {
	var cfg Config
	cfg.Defaults()
	if cfg.CRLTick != DefaultCRLTick || cfg.OCSPTick != DefaultOCSPTick || cfg.OutboxTick != DefaultOutboxTick ||
		cfg.CheckpointTick != DefaultCheckpointTick || cfg.SignInTick != DefaultSignInTick ||
		cfg.HeartbeatTick != DefaultHeartbeatTick || cfg.RecoveryTick != DefaultRecoveryTick || cfg.ShutdownTimeout != DefaultShutdownTimeout {
		t.Fatalf("defaults: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults without a public URL: %v", err)
	}
	for _, c := range []struct {
		name    string
		set     func(*Config)
		wantErr string
	}{
		{"short ticks", func(c *Config) { c.CRLTick, c.HeartbeatTick = time.Millisecond, time.Millisecond }, ""},
		{"negative tick", func(c *Config) { c.OutboxTick = -time.Second }, "OutboxTick"},
		{"slow heartbeat", func(c *Config) { c.HeartbeatTick = ReplicaTTL / 2 }, "HeartbeatTick"},
		{"bad session without a public URL", func(c *Config) { c.PublicURL, c.SessionIdle = "", time.Minute }, "--session-idle"},
		// RFC 5280 §5.1.2.5: nextUpdate is when the next CRL will be out;
		// a CRL valid no longer than the republication interval would
		// be served expired (before, 2h validity with 72h republication
		// was accepted).
		{"RFC 5280 §5.1.2.5 CRL validity under republication", func(c *Config) { c.CRLValidity = 2 * time.Hour }, "--crl-validity"},
		{"RFC 5280 §5.1.2.5 CRL validity equal to republication", func(c *Config) { c.CRLValidity, c.CRLRepublish = 48*time.Hour, 48*time.Hour }, "--crl-validity"},
		{"CRL validity just over republication", func(c *Config) { c.CRLValidity, c.CRLRepublish = 49*time.Hour, 48*time.Hour }, ""},
	} {
		cfg := Config{PublicURL: "http://pki.vetca-test.com"}
		c.set(&cfg)
		cfg.Defaults()
		err := cfg.Validate()
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.wantErr)
		}
	}
}
