// Package ids makes the random, prefixed string ids used for every entity
// (every id in the API is a string; docs/api.md). The prefix says what the
// id names, which helps people reading logs and audit exports.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// New returns prefix + "_" + 16 characters carrying 80 random bits.
func New(prefix string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("ids: crypto/rand failed: " + err.Error()) // the OS CSPRNG never fails on Linux
	}
	return prefix + "_" + enc.EncodeToString(b[:])
}

// Valid reports whether s looks like an id with the given prefix.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != 16 {
		return false
	}
	_, err := enc.DecodeString(rest)
	return err == nil
}
