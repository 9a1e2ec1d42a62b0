package app

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/vetca/vetca/internal/caa"
	"github.com/vetca/vetca/internal/egress"
	"github.com/vetca/vetca/internal/mpic"
	"github.com/vetca/vetca/internal/resolver"
	"github.com/vetca/vetca/internal/validation"
	"github.com/vetca/vetca/internal/validation/dcv"
)

// resolvConf is where the default DNS resolver comes from.
const resolvConf = "/etc/resolv.conf"

// wireDomains builds the domain-validation service from the server flags
// (docs/api.md, Domains):
//
//   - every DNS query (DCV, CAA, the address lookups of website-change) goes
//     to --dns-resolver, or else to the first nameserver of /etc/resolv.conf
//     (127.0.0.1:53 when it names none, as the C library does);
//   - CAA issue/issuewild records must name one of --caa-identity; without
//     the flag the identity is the host of --public-url, when that host is a
//     DNS name. With neither, vetca starts but refuses every CAA check
//     (fail closed) and logs why;
//   - website-change connects to --http-validation-port (default 80), and
//     only to public addresses (internal/egress) unless
//     --allow-private-validation-targets, which is logged as a warning;
//   - each --perspective is a remote perspective (`vetca perspective
//     serve`) reached over mutual TLS with --perspective-cert/-key, its
//     server certificate verified against --perspective-ca. Without any,
//     no corroboration is done and the evidence says so.
func (a *App) wireDomains(ctx context.Context) error {
	cfg := a.Cfg
	server := cfg.DNSResolver
	if server == "" {
		server = SystemResolver(resolvConf)
	}
	res, err := resolver.New(resolver.Config{Server: server, Clock: a.Clock, Retries: resolver.DefaultRetries})
	if err != nil {
		return fmt.Errorf("--dns-resolver: %w", err)
	}
	dnsc, err := dcv.NewDNSChecker(res, a.Clock)
	if err != nil {
		return err
	}
	port := cfg.HTTPValidationPort
	if port == 0 {
		port = dcv.DefaultHTTPPort
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("--http-validation-port %d: must be 1 to 65535", port)
	}
	web, err := dcv.NewHTTPChecker(dcv.HTTPConfig{Resolver: res, Clock: a.Clock, Port: port,
		AllowPrivateValidationTargets: cfg.AllowPrivateValidationTargets})
	if err != nil {
		return err
	}
	if cfg.AllowPrivateValidationTargets {
		a.Log.Warn("website-change validation may connect to loopback, private and other non-public addresses (" + egress.OverrideFlag + "); never use it in production")
	}
	chk := validation.Checkers{DNS: dnsc, Website: web}

	identities, explicit := CAAIdentities(cfg)
	c, err := caa.NewChecker(res, identities, a.Clock)
	if err != nil && explicit {
		return fmt.Errorf("--caa-identity: %w", err)
	}
	if err != nil { // the --public-url host is not an issuer domain name
		identities = nil
		if c, err = caa.NewChecker(res, nil, a.Clock); err != nil {
			return err
		}
	}
	if len(identities) == 0 && a.serves {
		a.Log.Warn("no CAA identity: vetca may issue only for domains whose CAA sets no issue restriction; set --caa-identity to the issuer domain names your CPS names")
	}
	chk.CAA = c

	mc := mpic.CorroboratorConfig{Perspectives: cfg.Perspectives, Clock: a.Clock}
	if len(cfg.Perspectives) > 0 {
		if cfg.PerspectiveCert == "" || cfg.PerspectiveKey == "" || cfg.PerspectiveCA == "" {
			return fmt.Errorf("--perspective needs --perspective-cert, --perspective-key and --perspective-ca (mutual TLS, BR §3.2.2.9)")
		}
		if mc.TLS, err = mpic.LoadClientTLSConfig(cfg.PerspectiveCert, cfg.PerspectiveKey, cfg.PerspectiveCA); err != nil {
			return fmt.Errorf("--perspective-cert: %w", err)
		}
	}
	corr, err := mpic.NewCorroborator(mc)
	if err != nil {
		return fmt.Errorf("--perspective: %w", err)
	}
	chk.Corroborator = corr

	a.Domains, err = validation.New(a.DB, a.Recorder, a.Clock, a.Accounts, chk, validation.Config{})
	return err
}

// CAAIdentities returns the issuer domain names CAA records must name:
// --caa-identity when given (explicit is then true), else the host of
// --public-url when it is not an IP address.
func CAAIdentities(cfg Config) (identities []string, explicit bool) {
	if len(cfg.CAAIdentities) > 0 {
		return cfg.CAAIdentities, true
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
		return nil, false
	}
	return []string{u.Hostname()}, false
}

// SystemResolver returns HOST:53 for the first nameserver line of a
// resolv.conf file, or 127.0.0.1:53 when the file names none or cannot be
// read (resolv.conf(5): the local machine is then the default).
func SystemResolver(path string) string {
	data, err := os.ReadFile(path)
	if err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "nameserver" && net.ParseIP(strings.SplitN(f[1], "%", 2)[0]) != nil {
				return net.JoinHostPort(f[1], "53")
			}
		}
	}
	return "127.0.0.1:53"
}
