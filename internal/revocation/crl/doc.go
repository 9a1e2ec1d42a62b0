// Package crl builds, inspects and publishes the sharded certificate
// revocation lists of a vetca issuer.
//
// Every issuer splits its revoked certificates over a fixed number of shards.
// A certificate's shard is chosen once, at issuance, by ShardFor, and the
// shard's URL (ShardURL) is written into the certificate's CRL distribution
// point. Build signs one shard as an X.509 v2 CRL that follows BR §7.2 and
// §7.2.2.1: a CRLNumber below 2^159, nextUpdate at most 10 days after
// thisUpdate, an authorityKeyIdentifier, and a critical Issuing Distribution
// Point whose only distributionPoint name is the very same URL, byte for
// byte. Entries carry a non-critical reasonCode only when the reason is not
// unspecified (0), and only the codes BR §7.2.2 allows.
//
// Build does not use x509.CreateRevocationList: it encodes the DER itself in
// one pass into a buffer of the exact final size. Stream writes the same DER
// from entries given one at a time in ascending serial order, so a shard of
// any size is built from the database batch by batch without ever holding
// its entries: the memory is the output itself. Inspect and Verify read a
// CRL back with the standard x509.ParseRevocationList, check its signature
// and its BR structure, and return its entries, which is what `vetca crl
// verify` needs to prove coverage. Check makes the same checks in one pass
// without holding the entries (and requires the ascending order Stream
// writes, which is how it refuses a repeated serial), and Windows cuts a
// CRL into small CRLs with the same header and extensions for linters that
// parse whole CRLs. PartitionedCRLsJSON renders the CCADB "JSON Array of
// Partitioned CRLs".
//
// The package is a pure library: it reads no clock, database or network.
// Times are given by the caller.
package crl
