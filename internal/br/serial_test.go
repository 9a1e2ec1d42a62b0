package br

import (
	"math/big"
	"testing"
)

func TestCheckSerial(t *testing.T) {
	two159 := new(big.Int).Lsh(big.NewInt(1), 159)
	cases := []struct {
		name string
		n    *big.Int
		ok   bool
	}{
		{"BR §7.1 greater than zero: 1", big.NewInt(1), true},
		{"BR §7.1 zero", big.NewInt(0), false},
		{"BR §7.1 negative", big.NewInt(-5), false},
		{"nil", nil, false},
		{"BR §7.1 2^159 - 1", new(big.Int).Sub(two159, big.NewInt(1)), true},
		{"BR §7.1 2^159", two159, false},
		{"RFC 5280 §4.1.2.2 over 20 octets", new(big.Int).Lsh(big.NewInt(1), 170), false},
	}
	for _, c := range cases {
		if err := CheckSerial(c.n); (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}
