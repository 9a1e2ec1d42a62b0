package issuance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/vetca/vetca/internal/store"
)

// ScanFilter selects the certificates a scan checks (docs/architecture.md,
// "Scans").
type ScanFilter struct {
	Unexpired      time.Time // notAfter after this time
	IncludeRevoked bool
	IssuerID       string
	Since          time.Time // issued at or after this time (zero: any)
}

// ScanSerials returns up to limit serials of certificates matching f,
// greater than after, in serial order. It is a projection that only
// decides which rows a scan reads next: every row is then read
// integrity-checked (GetCertificate), so one row edited outside vetca is a
// finding about that certificate instead of a failure of the whole page.
func ScanSerials(ctx context.Context, q store.Querier, f ScanFilter, after string, limit int) ([]string, error) {
	var where store.Where
	where.Add("serial > ?", after)
	where.Add("not_after > ?", store.FormatTime(f.Unexpired))
	if !f.IncludeRevoked {
		where.Add("status <> ?", CertRevoked)
	}
	if f.IssuerID != "" {
		where.Add("issuer_id = ?", f.IssuerID)
	}
	if !f.Since.IsZero() {
		where.Add("created_at >= ?", store.FormatTime(f.Since))
	}
	type row struct {
		Serial string `db:"serial"`
	}
	rows, err := store.SelectUnchecked[row](ctx, q, `SELECT serial FROM certificates `+where.Clause()+
		fmt.Sprintf(` ORDER BY serial LIMIT %d`, limit), where.Args()...)
	if err != nil {
		return nil, fmt.Errorf("scan serials: %w", err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Serial
	}
	return out, nil
}

// CheckIssued checks the issuance end of a certificate's audit chain: its
// intent exists (integrity-checked), was resolved as issued, records the
// hash of the very TBSCertificate that was signed, and the signature
// verifies under the issuer's certificate (design.md §6). It returns a
// description of the first break, or nil.
func (i Inventory) CheckIssued(ctx context.Context, q store.Querier, c Certificate) (string, error) {
	in, ok, err := i.IntentBySerial(ctx, q, c.Serial)
	if err != nil {
		return "", err
	}
	if !ok {
		return "no issuance intent was recorded for this serial", nil
	}
	if in.Status != IntentIssued {
		return fmt.Sprintf("the issuance intent is %s, not issued", in.Status), nil
	}
	if in.OrderID != c.OrderID {
		return fmt.Sprintf("the intent names order %s, the certificate order %s", in.OrderID, c.OrderID), nil
	}
	return i.checkSignature(ctx, q, c, in)
}

func (i Inventory) checkSignature(ctx context.Context, q store.Querier, c Certificate, in Intent) (string, error) {
	x, err := c.X509()
	if err != nil {
		return "the stored PEM does not parse: " + err.Error(), nil
	}
	tbs := sha256.Sum256(x.RawTBSCertificate)
	if want, _ := hex.DecodeString(in.TBSSHA256); !bytes.Equal(want, tbs[:]) {
		return "the signed TBSCertificate is not the one the intent recorded", nil
	}
	iss, ok, err := i.tab.issuers.First(ctx, q, `WHERE id = ?`, c.IssuerID)
	if err != nil {
		return "", err
	}
	if !ok {
		return fmt.Sprintf("issuer %s is not recorded", c.IssuerID), nil
	}
	parent, err := iss.Certificate()
	if err != nil {
		return "", err
	}
	if err := x.CheckSignatureFrom(parent); err != nil {
		return "the signature does not verify under issuer " + iss.ID + ": " + err.Error(), nil
	}
	return "", nil
}

// ScanSerials is the package function ScanSerials, for the scanner's
// Inventory interface.
func (i Inventory) ScanSerials(ctx context.Context, q store.Querier, f ScanFilter, after string, limit int) ([]string, error) {
	return ScanSerials(ctx, q, f, after, limit)
}
