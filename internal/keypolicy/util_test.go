package keypolicy

import (
	"crypto/sha1"
	"encoding/hex"
)

func sha1Sum(b []byte) [20]byte { return sha1.Sum(b) }

func hexOf(b []byte) string { return hex.EncodeToString(b) }
