package crl

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"net/url"
	"strconv"
	"strings"
)

// shardDomain separates the shard hash from any other use of SHA-256 over a
// serial number. It is part of the frozen ShardFor algorithm.
const shardDomain = "vetca/crl/shard/v1\x00"

// MaxShards is the largest shard count ShardFor accepts. Far more than any
// issuer needs, it only guards against a configuration typo.
const MaxShards = 1 << 16

// ShardFor returns the shard, in [0, shards), that a certificate with the
// given serial belongs to.
//
// The result is fixed at issuance and stored with the certificate, and it
// also selects the CRL distribution point written into the certificate, so
// the algorithm is frozen: SHA-256 over a domain label and the big-endian
// magnitude of the serial, whose first 64 bits are mapped onto [0, shards)
// by a multiply-shift (Lemire's reduction). Hashing makes the spread even
// whatever the structure of the serials (random, sequential or prefixed), and
// the reduction has no modulo bias worth the name (below 2^-48 for any
// permitted shard count). Changing any of this would move live certificates
// to shards whose CRLs do not list them; TestShardForGolden pins it.
//
// Serials are positive (RFC 5280 §4.1.2.2); the sign of a non-positive one
// is ignored. ShardFor panics if serial is nil or shards is not in
// [1, MaxShards], both programming errors: validate configuration with
// CheckShardCount first.
func ShardFor(serial *big.Int, shards int) int {
	if serial == nil {
		panic("crl: ShardFor with a nil serial")
	}
	if err := CheckShardCount(shards); err != nil {
		panic(err.Error())
	}
	var buf [64]byte
	mag := serial.Bytes()
	h := sha256.New()
	h.Write([]byte(shardDomain))
	h.Write(mag)
	sum := h.Sum(buf[:0])
	hi, _ := bits.Mul64(binary.BigEndian.Uint64(sum[:8]), uint64(shards))
	return int(hi)
}

// CheckShardCount reports whether n is a usable number of shards per issuer.
func CheckShardCount(n int) error {
	if n < 1 || n > MaxShards {
		return fmt.Errorf("crl: shard count %d is outside [1, %d]", n, MaxShards)
	}
	return nil
}

// ShardURL returns the URL of one shard of an issuer's CRL:
// base + "/crl/" + issuerID + "/" + shard + ".crl". A trailing slash on base
// is dropped and issuerID is path-escaped (a no-op for the hex and UUID ids
// vetca uses). The same string must be written into the certificate's CRL
// distribution point and given to Build, which puts it byte for byte into the
// shard's Issuing Distribution Point (BR §7.2.2.1). Use CheckURL to validate a
// configured base once at start-up; Build refuses a URL that fails it.
func ShardURL(base, issuerID string, shard int) string {
	return strings.TrimRight(base, "/") + "/crl/" + url.PathEscape(issuerID) + "/" + strconv.Itoa(shard) + ".crl"
}

// ParseShardFileName parses the last path segment of a shard URL ("7.crl")
// back into its shard number. Only the canonical form that ShardURL writes is
// accepted (no sign, no leading zeros, lower-case suffix), so that a web
// handler never serves a shard under a URL that differs from the one in its
// Issuing Distribution Point.
func ParseShardFileName(name string) (int, error) {
	digits, ok := strings.CutSuffix(name, ".crl")
	if !ok || digits == "" || len(digits) > 6 {
		return 0, fmt.Errorf("crl: %q is not a shard file name", name)
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("crl: %q is not a shard file name", name)
		}
	}
	if len(digits) > 1 && digits[0] == '0' {
		return 0, fmt.Errorf("crl: %q is not in canonical form", name)
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n >= MaxShards {
		return 0, fmt.Errorf("crl: %q is not a shard file name", name)
	}
	return n, nil
}

// errURL is wrapped by every URL validation failure.
var errURL = errors.New("crl: unusable CRL URL")

// maxURLLength bounds a CRL URL; IA5String has no limit of its own, but a
// distribution point URL longer than this is a configuration error.
const maxURLLength = 1024

// CheckURL reports whether u can be a CRL distribution point and Issuing
// Distribution Point name: an absolute "http" URL (BR §7.1.2.11.2 allows no
// other scheme), with a host, no user info, query or fragment, made only of
// printable ASCII without spaces, so that it is a valid IA5String
// (RFC 5280 §4.2.1.13) and is compared byte for byte by relying parties.
func CheckURL(u string) error {
	if u == "" || len(u) > maxURLLength {
		return fmt.Errorf("%w: length %d", errURL, len(u))
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= 0x20 || c >= 0x7f {
			return fmt.Errorf("%w: %q has a byte 0x%02x that is not printable ASCII", errURL, u, c)
		}
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("%w: %v", errURL, err)
	}
	switch {
	case p.Scheme != "http":
		return fmt.Errorf("%w: %q must use the http scheme (BR §7.1.2.11.2)", errURL, u)
	case p.Host == "" || p.Opaque != "":
		return fmt.Errorf("%w: %q has no host", errURL, u)
	case p.User != nil:
		return fmt.Errorf("%w: %q carries user information", errURL, u)
	case p.RawQuery != "" || p.ForceQuery || p.Fragment != "" || strings.ContainsAny(u, "?#"):
		return fmt.Errorf("%w: %q has a query or fragment", errURL, u)
	}
	return nil
}
