package keypolicy

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// WeakKeys is a list of Debian weak RSA keys (CVE-2008-0166), which BR
// §6.1.1.3(5)(a) requires a CA to reject. Each entry is the last 80 bits of
// the SHA-1 of "Modulus=<upper-case hex modulus>\n", the format of Debian's
// openssl-blacklist and openssl-vulnkey and of the lists published at
// https://github.com/cabforum/Debian-weak-keys/. It is read-only once built
// (ParseWeakKeys, Union).
type WeakKeys struct {
	suffixes map[[10]byte]struct{}
}

// ParseWeakKeys reads a weak key list: one hex fingerprint per line, either
// the 20-hex-digit suffix or the full 40-digit SHA-1 (whose last 20 digits
// are used). Blank lines and lines starting with '#' are ignored.
func ParseWeakKeys(r io.Reader) (*WeakKeys, error) {
	wk := &WeakKeys{suffixes: map[[10]byte]struct{}{}}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if len(s) == 40 {
			s = s[20:]
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 10 {
			return nil, fmt.Errorf("keypolicy: weak key list line %d: want 20 or 40 hex digits, got %q", line, s)
		}
		wk.suffixes[[10]byte(b)] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("keypolicy: reading weak key list: %w", err)
	}
	return wk, nil
}

// Union returns the entries of w and o together, adding o's to w (which
// may be nil) while the list is being built, before it is shared.
func (w *WeakKeys) Union(o *WeakKeys) *WeakKeys {
	if w == nil {
		return o
	}
	for k := range o.suffixes {
		w.suffixes[k] = struct{}{}
	}
	return w
}

// Len returns the number of entries.
func (w *WeakKeys) Len() int { return len(w.suffixes) }

// Contains reports whether the RSA modulus n is on the list.
func (w *WeakKeys) Contains(n *big.Int) bool {
	_, ok := w.suffixes[WeakKeyFingerprint(n)]
	return ok
}

// WeakKeyFingerprint returns the list entry for modulus n: the last 10 bytes
// of SHA-1("Modulus=%X\n").
func WeakKeyFingerprint(n *big.Int) [10]byte {
	sum := sha1.Sum([]byte(fmt.Sprintf("Modulus=%X\n", n.Bytes())))
	return [10]byte(sum[10:])
}
