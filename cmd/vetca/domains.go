package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vetca/vetca/internal/app"
)

// addDomainFlags adds the CONTRACT §4 server flags.
func addDomainFlags(f *pflag.FlagSet, cfg *app.Config) {
	f.StringVar(&cfg.DNSResolver, "dns-resolver", "", "HOST:PORT of the DNS resolver for every DCV and CAA query (default: the first nameserver in /etc/resolv.conf)")
	f.StringArrayVar(&cfg.CAAIdentities, "caa-identity", nil, "issuer domain name that CAA issue/issuewild records must name to allow vetca (repeatable)")
	f.IntVar(&cfg.HTTPValidationPort, "http-validation-port", 80, "port that website-change validation connects to")
	f.StringArrayVar(&cfg.Perspectives, "perspective", nil, "URL of a remote perspective for multi-perspective corroboration (repeatable)")
	f.StringVar(&cfg.PerspectiveCert, "perspective-cert", "", "client certificate (PEM) presented to remote perspectives")
	f.StringVar(&cfg.PerspectiveKey, "perspective-key", "", "key of --perspective-cert")
	f.StringVar(&cfg.PerspectiveCA, "perspective-ca", "", "CA bundle (PEM) the perspectives' server certificates chain to")
}

// newPerspectiveCmd is `vetca perspective serve`. (Skeleton: issue 4.)
func newPerspectiveCmd(g *globals) *cobra.Command {
	return &cobra.Command{Use: "perspective", Short: "Run a remote network perspective (BR §3.2.2.9)", Hidden: true}
}
