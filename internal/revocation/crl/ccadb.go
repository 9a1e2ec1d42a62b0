package crl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// PartitionedCRLsJSON renders the CCADB "JSON Array of Partitioned CRLs"
// (CCADB Policy §6.2): a JSON array of the complete set of distinct CRL URLs
// that appear in the crlDistributionPoints of an issuer's unexpired
// certificates. urls is that set as the caller knows it; duplicates are
// dropped and the array is sorted, so the same set always renders to the same
// bytes. Every URL must pass CheckURL. URLs are written without HTML escaping,
// so they read exactly as they appear in the certificates.
//
// An empty set renders as [""], the value CCADB asks for before the CA has
// issued any certificate.
func PartitionedCRLsJSON(urls []string) ([]byte, error) {
	set := slices.Clone(urls)
	for _, u := range set {
		if err := CheckURL(u); err != nil {
			return nil, fmt.Errorf("crl: partitioned CRL list: %w", err)
		}
	}
	slices.Sort(set)
	set = slices.Compact(set)
	if len(set) == 0 {
		set = []string{""}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(set); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
