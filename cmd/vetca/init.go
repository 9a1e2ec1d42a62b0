package main

import (
	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/auth"
	"github.com/vetca/vetca/internal/iso3166"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/signer"
)

func newInitCmd(g *globals) *cobra.Command {
	var o app.InitOptions
	var rootAlg, issAlg string
	c := &cobra.Command{
		Use:   "init",
		Short: "Create or migrate the schema, the root and issuing CA, the audit key, the EAB secret and the first admin user",
		Long: `init creates or migrates the database schema, creates a root CA and an
issuing CA (file keys in --key-dir, or the issuing key on an HSM with
--issuer-key pkcs11:...), writes the audit checkpoint key and the EAB secret
(KEY-DIR/eab.secret, from which ACME External Account Binding keys are
derived; never in the database), and creates the first admin user, whose token
it prints once. Running it again changes nothing and
says so.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.RootAlg, err = signer.ParseAlgorithm(rootAlg); err != nil {
				return usageErr("--root-key-alg: %v", err)
			}
			if o.IssuingAlg, err = signer.ParseAlgorithm(issAlg); err != nil {
				return usageErr("--issuer-key-alg: %v", err)
			}
			if err := checkIssuerKeyURI(o.IssuerKeyURI); err != nil {
				return err
			}
			if _, ok := iso3166.LookupCountry(o.Country); !ok {
				return usageErr("--ca-country %q is not an ISO 3166-1 alpha-2 code", o.Country)
			}
			// Refused here, before the schema, the keys and the CA
			// hierarchy are written, not by the step of init that uses them.
			if o.Organization == "" {
				return usageErr("--ca-organization is required: the organizationName of the CA certificates (BR §7.1.2.10.2)")
			}
			for _, cn := range []string{o.Organization + " Root CA R1", o.Organization + " OV TLS Issuing CA 1"} {
				if _, err := profile.EncodeSubject(profile.Subject{CountryName: o.Country, OrganizationName: o.Organization, CommonName: cn}); err != nil {
					return usageErr("--ca-organization %q: %s", o.Organization, describe(err))
				}
			}
			if o.AdminName != "" {
				if err := auth.CheckUserName(o.AdminName); err != nil {
					return usageErr("--admin-name: %s", describe(err))
				}
			}
			a, err := g.open(cmd.Context(), app.Options{Migrate: true, Write: true, CreateAuditKey: true})
			if err != nil {
				return err
			}
			defer a.Close()
			o.By = cliActor()
			res, err := app.Init(cmd.Context(), a, o)
			if err := markHead(cmd.Context(), a, err); err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(res)
			}
			for _, m := range res.Messages {
				g.say("%s", m)
			}
			for _, i := range res.Issuers {
				g.say("issuer %s (%s): %s", i.ID, i.Kind, i.Subject)
			}
			if res.AdminToken != "" {
				g.say("\nadmin token (store it now; it is not shown again):\n%s", res.AdminToken)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&g.cfg.PublicURL, "public-url", "", "base URL put into CA certificates' CRL and caIssuers URLs (default http://127.0.0.1:8080)")
	f.StringVar(&o.Organization, "ca-organization", "vetca", "organizationName of the CA certificates")
	f.StringVar(&o.Country, "ca-country", "US", "countryName of the CA certificates (your CA's legal country)")
	f.StringVar(&o.AdminName, "admin-name", "admin", "name of the first admin user")
	f.StringVar(&rootAlg, "root-key-alg", "ecdsa-p384", "root CA key: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096")
	f.StringVar(&issAlg, "issuer-key-alg", "ecdsa-p256", "issuing CA key algorithm")
	f.StringVar(&o.IssuerKeyURI, "issuer-key", "", "RFC 7512 pkcs11: URI of the issuing CA key on an HSM (created if absent)")
	return c
}
