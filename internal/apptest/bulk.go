package apptest

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation/crl"
	"github.com/vetca/vetca/internal/serial"
	"github.com/vetca/vetca/internal/store"
)

// CopyCertificates stores n copies of the issued certificate from under
// fresh random serials, through the issuance engine's own audited table, at
// most batch to a transaction, and returns their serials. Each copy carries
// the CRL shard and URL its own serial maps to (crl.ShardFor with the
// installation's shard count), so CRL coverage checks are real. It is a
// test shortcut for a large inventory: issuing thousands of certificates
// through the pipeline is too slow for a test. a must be opened with
// app.Options.Write.
func CopyCertificates(ctx context.Context, a *app.App, from string, n, batch int) ([]string, error) {
	if batch < 1 {
		batch = 500
	}
	c, ok, err := issuance.NewInventory(a.Recorder).CertificateBySerial(ctx, a.DB, from)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("copy certificates: no certificate %s", from)
	}
	base, ok := strings.CutSuffix(c.CRLURL, crl.ShardURL("", c.IssuerID, c.Shard))
	if !ok {
		return nil, fmt.Errorf("copy certificates: CRL URL %q is not shard %d of issuer %s", c.CRLURL, c.Shard, c.IssuerID)
	}
	tab := audit.TableOf[issuance.Certificate](a.Recorder, "certificates")
	by := actor.CLIActor("test")
	var serials []string
	for done := 0; done < n; {
		k := min(batch, n-done)
		err := a.DB.InTx(ctx, func(tx *store.Tx) error {
			for i := range k {
				sn, err := serial.New(rand.Reader)
				if err != nil {
					return err
				}
				cp := c
				cp.Serial = serial.Hex(sn)
				cp.ID = "crt_copy_" + cp.Serial
				cp.CertSHA256 = fmt.Sprintf("%064x", done+i+1)
				cp.Shard = crl.ShardFor(sn, a.Cfg.CRLShards)
				cp.CRLURL = crl.ShardURL(base, c.IssuerID, cp.Shard)
				if err := tab.Insert(ctx, tx, by, "certificate.issued", cp); err != nil {
					return err
				}
				serials = append(serials, cp.Serial)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		done += k
	}
	return serials, nil
}
