package br

import (
	"fmt"
	"math/big"
)

// Certificate serial number rules (BR §7.1; RFC 5280 §4.1.2.2; MRSP §5.2).
const (
	// SerialMinEntropyBits: the serial MUST contain "at least 64 bits of
	// output from a CSPRNG" (BR §7.1, ballot 164).
	SerialMinEntropyBits = 64
	// SerialMaxBits: the serial MUST be "less than 2^159" (BR §7.1), which
	// keeps its DER encoding within the 20 octets of RFC 5280 §4.1.2.2.
	SerialMaxBits = 159
	// SerialMaxOctets: "Conforming CAs MUST NOT use serialNumber values
	// longer than 20 octets" (RFC 5280 §4.1.2.2).
	SerialMaxOctets = 20
)

// CheckSerial checks a certificate serial number: greater than zero and less
// than 2^159 (BR §7.1). Entropy cannot be checked from one value; package
// serial generates conforming ones.
func CheckSerial(n *big.Int) error {
	switch {
	case n == nil || n.Sign() <= 0:
		return fmt.Errorf("br: serial number must be greater than zero (BR §7.1)")
	case n.BitLen() > SerialMaxBits:
		return fmt.Errorf("br: serial number has %d bits; it must be less than 2^159 (BR §7.1)", n.BitLen())
	}
	return nil
}
