package main

import (
	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/iso3166"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/signer"
)

func newCeremonyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "ceremony", Short: "Key ceremonies: create issuing CAs with a signed ceremony record"}
	var o issuance.IntermediateOptions
	var alg, out string
	inter := &cobra.Command{
		Use:   "intermediate",
		Short: "Create a new issuing CA under the root (file key, or HSM with --issuer-key pkcs11:...)",
		Long: `intermediate creates a new issuing CA: a new key (a file in --key-dir, or on an
HSM with --issuer-key), a certificate signed by the root key, an audited issuer
record, and a ceremony record signed with the audit key for the witnesses to
keep. New orders are issued by the newest valid issuing CA.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIntermediateFlags(&o, alg, out, cmd.Flags().Changed("ca-organization")); err != nil {
				return err
			}
			a, err := g.open(cmd.Context(), app.Options{Write: true})
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.RequireAuditKey(); err != nil {
				return err
			}
			iss, path, err := a.IntermediateCeremony(cmd.Context(), cliActor(), o, out)
			if err := markHead(cmd.Context(), a, err); err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(map[string]any{"issuer": map[string]string{"id": iss.ID, "subject": iss.Subject, "keyUri": iss.KeyURI}, "record": path})
			}
			g.say("created issuing CA %s: %s\nkey: %s\nceremony record: %s", iss.ID, iss.Subject, iss.KeyURI, path)
			return nil
		},
	}
	f := inter.Flags()
	f.StringVar(&o.Organization, "ca-organization", "", "organizationName of the CA certificate (default the root CA's)")
	f.StringVar(&o.Country, "ca-country", "", "countryName of the CA certificate (default the root CA's)")
	f.StringVar(&o.CommonName, "name", "", "commonName (default \"ORG OV TLS Issuing CA N\")")
	f.StringVar(&alg, "key-alg", "ecdsa-p256", "key algorithm: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096")
	f.StringVar(&o.KeyURI, "issuer-key", "", "RFC 7512 pkcs11: URI for the key on an HSM (created if absent)")
	f.StringVar(&o.PublicURL, "public-url", "", "base URL of the root's CRL and certificate (default http://127.0.0.1:8080)")
	f.StringVar(&out, "out", "", "where to write the ceremony record (default KEY-DIR/ceremony-ID.json)")

	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a ceremony record's signature against the audit key",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("ceremony verify takes one FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			g.cfg.Defaults()
			pub, err := audit.LoadPublicKey(g.cfg.AuditPublicKey)
			if err != nil {
				return err
			}
			rec, err := issuance.ReadCeremonyRecord(args[0], pub)
			if err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(rec)
			}
			g.say("ceremony record valid: %s of %s (%s) at %s by %s, signed by audit key %s", rec.Kind, rec.Issuer.ID, rec.Issuer.Subject, rec.At, rec.Operator, rec.KeyID)
			return nil
		},
	}
	c.AddCommand(inter, verify)
	return c
}

// checkIntermediateFlags checks every flag of ceremony intermediate before
// anything is opened or made, and sets o.Alg. An organization or country
// not given is the root's (IntermediateCeremony); one given empty is
// refused.
func checkIntermediateFlags(o *issuance.IntermediateOptions, alg, out string, orgSet bool) error {
	var err error
	if o.Alg, err = signer.ParseAlgorithm(alg); err != nil {
		return usageErr("--key-alg: %v", err)
	}
	if err := checkIssuerKeyURI(o.KeyURI); err != nil {
		return err
	}
	if _, ok := iso3166.LookupCountry(o.Country); o.Country != "" && !ok {
		return usageErr("--ca-country %q is not an ISO 3166-1 alpha-2 code", o.Country)
	}
	if orgSet && o.Organization == "" {
		return usageErr("--ca-organization is required: the organizationName of the CA certificate (BR §7.1.2.10.2)")
	}
	if err := checkCANames(*o); err != nil {
		return err
	}
	// The record's place is checked before the CA is made: a CA created
	// without its record is not undone by a failed write.
	if err := checkOutFile("--out", out); err != nil {
		return err
	}
	return checkNewFile("--out", out)
}

// checkCANames refuses the names a new issuing CA's certificate cannot
// carry (BR §7.1.2.10.2, §7.1.4.2) before the ceremony makes its key, as
// init refuses its own: a key made on an HSM stays there. Names not given
// are the root's, checked when init made it (Subject.Validate passes over
// an empty field).
func checkCANames(o issuance.IntermediateOptions) error {
	sub := profile.Subject{CountryName: o.Country, OrganizationName: o.Organization}
	if o.Organization != "" && o.CommonName == "" {
		sub.CommonName = o.Organization + " OV TLS Issuing CA 1" // the default --name
	}
	if err := sub.Validate(); err != nil {
		return usageErr("--ca-organization %q: %s", o.Organization, describe(err))
	}
	if o.CommonName != "" {
		sub.CommonName = o.CommonName
		if err := sub.Validate(); err != nil {
			return usageErr("--name: %s", describe(err))
		}
	}
	return nil
}
