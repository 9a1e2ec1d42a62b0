package keypolicy

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
)

// Keys generated once and shared by the tests (key generation dominates the
// run time).
var (
	goodOnce sync.Once
	goodKeys []*rsa.PrivateKey
)

func goodRSA(t testing.TB) []*rsa.PrivateKey {
	t.Helper()
	goodOnce.Do(func() {
		for _, bits := range []int{2048, 2048, 3072} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			goodKeys = append(goodKeys, k)
		}
	})
	return goodKeys
}

func wantRefusal(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("want refusal %s, got nil", code)
	}
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("want *apperr.Error, got %T: %v", err, err)
	}
	if e.Kind != apperr.KindInvalid || e.Field != "publicKey" || e.Code != code {
		t.Fatalf("got kind=%d field=%q code=%q (%v), want 400 publicKey %s", e.Kind, e.Field, e.Code, err, code)
	}
}

func readPEMKey(t *testing.T, path string) *rsa.PublicKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PublicKey)
}

// nextPrime returns the smallest prime >= n.
func nextPrime(n *big.Int) *big.Int {
	p := new(big.Int).Set(n)
	if p.Bit(0) == 0 {
		p.Add(p, big.NewInt(1))
	}
	for !p.ProbablyPrime(20) {
		p.Add(p, big.NewInt(2))
	}
	return p
}

func TestGoodKeysPass(t *testing.T) {
	for _, k := range goodRSA(t) {
		if err := Check(&k.PublicKey); err != nil {
			t.Errorf("RSA-%d: %v", k.N.BitLen(), err)
		}
		if err := Check(k.PublicKey); err != nil {
			t.Errorf("RSA-%d by value: %v", k.N.BitLen(), err)
		}
	}
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(&k.PublicKey); err != nil {
			t.Errorf("%s: %v", c.Params().Name, err)
		}
	}
	// A public key known not to be ROCA (rocacheck's negative vector).
	if err := Check(readPEMKey(t, "testdata/good-rocacheck-1.pem")); err != nil {
		t.Errorf("rocacheck good key: %v", err)
	}
}

func TestRefusesTypesAndCurves(t *testing.T) {
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	//lint:ignore SA1019 building an invalid point needs the raw coordinates
	offCurve := &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}
	//lint:ignore SA1019 the point at infinity, encoded as (0, 0)
	infinity := &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(0), Y: big.NewInt(0)}
	//lint:ignore SA1019 a P-256 point presented as P-384
	wrongCurve := &ecdsa.PublicKey{Curve: elliptic.P384(), X: p256.X, Y: p256.Y}
	cases := []struct {
		name string
		key  crypto.PublicKey
		code apperr.Code
	}{
		{"BR §6.1.5 / MRSP §5.1 P-224", &p224.PublicKey, CodeECDSACurve},
		{"MRSP §5.1 P-521", &p521.PublicKey, CodeECDSACurve},
		{"BR §6.1.5 Ed25519", edPub, CodeUnsupportedKey},
		{"X25519", x.PublicKey(), CodeUnsupportedKey},
		{"BR §6.1.6 point not on the curve", offCurve, CodeECDSAPoint},
		{"BR §6.1.6 point at infinity", infinity, CodeECDSAPoint},
		{"BR §6.1.6 P-256 point labelled P-384", wrongCurve, CodeECDSAPoint},
		{"coordinates missing", &ecdsa.PublicKey{Curve: elliptic.P256()}, CodeECDSAPoint},
		{"no curve", &ecdsa.PublicKey{}, CodeECDSACurve},
		{"nil", nil, CodeUnsupportedKey},
		{"nil *rsa.PublicKey", (*rsa.PublicKey)(nil), CodeUnsupportedKey},
		{"a string", "ssh-rsa AAAA", CodeUnsupportedKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantRefusal(t, Check(c.key), c.code) })
	}
}

func TestRefusesRSAParameters(t *testing.T) {
	good := goodRSA(t)[0].PublicKey
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	// 2049 bits, odd: refused on size before anything else.
	odd := new(big.Int).Lsh(good.N, 1)
	odd.Add(odd, big.NewInt(1))
	huge := new(big.Int).Lsh(big.NewInt(1), 8200)
	huge.Add(huge, big.NewInt(1))
	even := new(big.Int).Add(good.N, big.NewInt(1))

	cases := []struct {
		name string
		key  *rsa.PublicKey
		code apperr.Code
	}{
		{"BR §6.1.5 RSA-1024", &small.PublicKey, CodeRSATooSmall},
		{"BR §6.1.5 2049 bits", &rsa.PublicKey{N: odd, E: 65537}, CodeRSASizeNotByte},
		{"vetca limit 8201 bits", &rsa.PublicKey{N: huge, E: 65537}, CodeRSATooLarge},
		{"BR §6.1.6 e=1", &rsa.PublicKey{N: good.N, E: 1}, CodeRSAExponentSmall},
		{"BR §6.1.6 e=2", &rsa.PublicKey{N: good.N, E: 2}, CodeRSAExponentSmall},
		{"BR §6.1.6 e=0", &rsa.PublicKey{N: good.N, E: 0}, CodeRSAExponentSmall},
		{"BR §6.1.6 e=-3", &rsa.PublicKey{N: good.N, E: -3}, CodeRSAExponentSmall},
		{"BR §6.1.6 e=4 (even)", &rsa.PublicKey{N: good.N, E: 4}, CodeRSAExponentEven},
		{"BR §6.1.6 e=65538 (even)", &rsa.PublicKey{N: good.N, E: 65538}, CodeRSAExponentEven},
		{"BR §6.1.6 SHOULD: e=3", &rsa.PublicKey{N: good.N, E: 3}, CodeRSAExponentSmall},
		{"BR §6.1.6 SHOULD: e=65535", &rsa.PublicKey{N: good.N, E: 65535}, CodeRSAExponentSmall},
		{"BR §6.1.6 even modulus", &rsa.PublicKey{N: even, E: 65537}, CodeRSAModulusEven},
		{"no modulus", &rsa.PublicKey{E: 65537}, CodeRSATooSmall},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantRefusal(t, Check(c.key), c.code) })
	}

	// BR §6.1.6 allows odd e >= 3; the option accepts what the SHOULD advises against.
	lax := NewChecker(Options{AllowSmallExponents: true})
	for _, e := range []int{3, 17, 65535} {
		if err := lax.Check(context.Background(), &rsa.PublicKey{N: good.N, E: e}); err != nil {
			t.Errorf("AllowSmallExponents, e=%d: %v", e, err)
		}
	}
	wantRefusal(t, lax.Check(context.Background(), &rsa.PublicKey{N: good.N, E: 1}), CodeRSAExponentSmall)
	if err := Check(&rsa.PublicKey{N: good.N, E: 65537 + 2}); err != nil {
		t.Errorf("e=65539: %v", err)
	}
}

func TestRefusesSmallFactors(t *testing.T) {
	// BR §6.1.6 (NIST SP 800-89 §5.3.3): no factor below 752. Build 2048-bit
	// moduli p*m with m free of other small factors, for the smallest and
	// largest small primes and one in between.
	ck := newTables()
	for _, p := range []int64{3, 401, 751} {
		bp := big.NewInt(p)
		for {
			m, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 2048))
			if err != nil {
				t.Fatal(err)
			}
			m.Quo(m, bp)
			m.SetBit(m, 0, 1)
			n := new(big.Int).Mul(m, bp)
			if n.BitLen() != 2048 || hasSmallFactorOtherThan(ck, m, uint64(p)) {
				continue
			}
			err = Check(&rsa.PublicKey{N: n, E: 65537})
			wantRefusal(t, err, CodeRSASmallFactor)
			if !strings.Contains(err.Error(), big.NewInt(p).String()) {
				t.Errorf("message does not name %d: %v", p, err)
			}
			break
		}
	}
	for _, p := range ck.primes {
		if p >= SmallFactorBound {
			t.Fatalf("prime %d is not below 752", p)
		}
	}
	if len(ck.primes) != 133 || ck.primes[len(ck.primes)-1] != 751 {
		t.Fatalf("want the 133 primes up to 751, got %d ending %d", len(ck.primes), ck.primes[len(ck.primes)-1])
	}
}

func hasSmallFactorOtherThan(t *tables, m *big.Int, except uint64) bool {
	for _, p := range t.primes {
		if p != except && modWord(m, p) == 0 {
			return true
		}
	}
	return false
}

func TestRefusesPrimePowers(t *testing.T) {
	// BR §6.1.6: the modulus SHOULD not be the power of a prime.
	// power returns p^k of exactly 2048 bits for a random prime p of the
	// given size.
	power := func(bits, k int) *big.Int {
		for {
			x, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
			if err != nil {
				t.Fatal(err)
			}
			x.SetBit(x, bits-1, 1)
			p := nextPrime(x)
			n := new(big.Int).Exp(p, big.NewInt(int64(k)), nil)
			if n.BitLen() == 2048 {
				return n
			}
		}
	}
	cases := []struct {
		name string
		n    *big.Int
		k    string
	}{
		{"p^2", power(1024, 2), "2-th"},
		{"p^3", power(683, 3), "3-th"},
		{"p^7", power(293, 7), "7-th"},
		{"p^43 (root of 48 bits: exact root)", power(48, 43), "43-th"},
		{"p^67 (root of 31 bits: floating-point root)", power(31, 67), "67-th"},
	}
	// A large exponent: p^127 with p just above 2^16.
	for p := int64(71141); ; p++ {
		bp := big.NewInt(p)
		if !bp.ProbablyPrime(20) {
			continue
		}
		if n := new(big.Int).Exp(bp, big.NewInt(127), nil); n.BitLen() == 2048 {
			cases = append(cases, struct {
				name string
				n    *big.Int
				k    string
			}{"p^127", n, "127-th"})
			break
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Check(&rsa.PublicKey{N: c.n, E: 65537})
			wantRefusal(t, err, CodeRSAPrimePower)
			if !strings.Contains(err.Error(), c.k) {
				t.Errorf("message %q does not name the exponent %s", err, c.k)
			}
		})
	}
	// kthRoot is exact around perfect powers.
	for _, k := range []int{3, 5, 131} {
		base, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(2048/k)))
		base.Add(base, big.NewInt(1000))
		n := new(big.Int).Exp(base, big.NewInt(int64(k)), nil)
		if r := kthRoot(n, k); r.Cmp(base) != 0 {
			t.Errorf("kthRoot(b^%d) = %s, want %s", k, r, base)
		}
		n.Sub(n, big.NewInt(1))
		if r := kthRoot(n, k); r.Cmp(new(big.Int).Sub(base, big.NewInt(1))) != 0 {
			t.Errorf("kthRoot(b^%d - 1) = %s, want b-1", k, r)
		}
	}
}

// closePrimes returns a 2048-bit modulus p*q with q the first prime after
// p + delta.
func closePrimes(t *testing.T, delta *big.Int) *big.Int {
	t.Helper()
	for {
		p, err := rand.Prime(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		q := nextPrime(new(big.Int).Add(p, delta))
		if n := new(big.Int).Mul(p, q); n.BitLen() == 2048 {
			return n
		}
	}
}

func TestFermatCloseprimes(t *testing.T) {
	// BR §6.1.1.3(5)(c): reject keys Fermat's method factors within 100
	// rounds. Fermat needs about (q-p)^2 / (8 sqrt(n)) rounds, so a distance
	// of d * n^(1/4) costs about d^2/8 rounds.
	n4 := new(big.Int).Lsh(big.NewInt(1), 512) // n^(1/4) for a 2048-bit n, roughly
	scaled := func(d int64) *big.Int { return new(big.Int).Mul(n4, big.NewInt(d)) }
	ctx := context.Background()

	adjacent := closePrimes(t, new(big.Int).Lsh(big.NewInt(1), 100))
	wantRefusal(t, Check(&rsa.PublicKey{N: adjacent, E: 65537}), CodeRSAClosePrimes)

	// About 50 rounds: refused by the BR's 100, not by 10 rounds.
	mid := closePrimes(t, scaled(20))
	wantRefusal(t, Check(&rsa.PublicKey{N: mid, E: 65537}), CodeRSAClosePrimes)
	if err := NewChecker(Options{FermatRounds: 10}).Check(ctx, &rsa.PublicKey{N: mid, E: 65537}); err != nil {
		t.Errorf("10 rounds should not reach a ~50-round key: %v", err)
	}

	// About 1000 rounds: beyond the BR bound, so accepted (the check is
	// bounded), but found with more rounds.
	far := closePrimes(t, scaled(90))
	if err := Check(&rsa.PublicKey{N: far, E: 65537}); err != nil {
		t.Errorf("a ~1000-round key is outside the BR's 100 rounds: %v", err)
	}
	wantRefusal(t, NewChecker(Options{FermatRounds: 3000}).Check(ctx, &rsa.PublicKey{N: far, E: 65537}), CodeRSAClosePrimes)
}

// rocaKey builds a 2048-bit modulus from two primes of the ROCA form
// p = k*M + (65537^a mod M), M the product of the first 126 primes (the
// paper's parameters for 1984- to 3936-bit keys).
func rocaKey(t *testing.T) *big.Int {
	t.Helper()
	m := big.NewInt(1)
	count := 0
	for p := int64(2); count < 126; p++ {
		if big.NewInt(p).ProbablyPrime(1) {
			m.Mul(m, big.NewInt(p))
			count++
		}
	}
	prime := func() *big.Int {
		a, _ := rand.Int(rand.Reader, big.NewInt(1<<40))
		g := new(big.Int).Exp(big.NewInt(65537), a, m)
		// k so that p has 1024 bits with the top bits set.
		k := new(big.Int).Quo(new(big.Int).Lsh(big.NewInt(3), 1022), m)
		off, _ := rand.Int(rand.Reader, new(big.Int).Rsh(k, 4))
		k.Add(k, off)
		p := new(big.Int)
		for {
			p.Mul(k, m)
			p.Add(p, g)
			if p.ProbablyPrime(20) {
				return p
			}
			k.Add(k, big.NewInt(1))
		}
	}
	for {
		n := new(big.Int).Mul(prime(), prime())
		if n.BitLen() == 2048 {
			return n
		}
	}
}

func TestROCA(t *testing.T) {
	// BR §6.1.1.3(5)(b). Public vectors from github.com/titanous/rocacheck
	// (rocacheck_test.go) and a key built the way the vulnerable library
	// builds them.
	for _, f := range []string{"testdata/roca-rocacheck-1.pem", "testdata/roca-rocacheck-2.pem"} {
		wantRefusal(t, Check(readPEMKey(t, f)), CodeRSAROCA)
	}
	wantRefusal(t, Check(&rsa.PublicKey{N: rocaKey(t), E: 65537}), CodeRSAROCA)

	tb := newTables()
	fingerprint := func(n *big.Int) bool {
		var res [SmallFactorBound]uint64
		for _, p := range tb.primes {
			res[p] = modWord(n, p)
		}
		return rocaFingerprint(tb.roca, &res)
	}
	// github.com/crocs-muni/roca roca/tests/data/pubkey03.pem: a 2049-bit
	// ROCA modulus (Check refuses it on size first).
	crocs := readPEMKey(t, "testdata/roca-crocs-pubkey03.pem")
	wantRefusal(t, Check(crocs), CodeRSASizeNotByte)
	if !fingerprint(crocs.N) {
		t.Error("crocs-muni pubkey03 has no fingerprint")
	}
	// A "fake" modulus from crocs-muni's test_fake_mods: each residue is a
	// power of 65537, but not with one common exponent. The per-prime test
	// flags it; the exact subgroup test must not.
	fake, _ := new(big.Int).SetString("72414128973967872688332736535017614208620368242015797102796086827882754006260204061799547004983731426777596445658889886861027045033760014948048067467947960318205453778973975867532910489227970143091184725760290172935872752222320334100097730483600892686353719855397381316384244147860260153198611313067061116317", 10)
	perPrime := true
	for _, p := range tb.roca {
		if p.dlog[new(big.Int).Mod(fake, new(big.Int).SetUint64(p.r)).Uint64()] < 0 {
			perPrime = false
		}
	}
	if !perPrime {
		t.Fatal("the fake modulus should pass the per-prime residue test")
	}
	if fingerprint(fake) {
		t.Error("the subgroup test flags crocs-muni's fake modulus")
	}
	// Random keys never carry it.
	for _, k := range goodRSA(t) {
		if fingerprint(k.N) {
			t.Errorf("RSA-%d flagged as ROCA", k.N.BitLen())
		}
	}
	// The table: 38 odd primes 3..167; the orders' lcm fits in uint64 with
	// room (the arithmetic in rocaFingerprint relies on it).
	l := uint64(1)
	for _, p := range tb.roca {
		l = lcm(l, p.order)
	}
	if len(tb.roca) != 38 || l >= 1<<63 {
		t.Fatalf("ROCA table: %d primes, lcm of orders %d", len(tb.roca), l)
	}
}

func TestDebianWeakKeys(t *testing.T) {
	k := goodRSA(t)[0]
	other := goodRSA(t)[1]
	fp := WeakKeyFingerprint(k.N)
	// Cross-check the fingerprint format with openssl's own modulus print,
	// as openssl-vulnkey computes it (a visible skip without openssl, which
	// CI fails; see .ci/expected-skips).
	t.Run("openssl modulus", func(t *testing.T) {
		path, err := exec.LookPath("openssl")
		if err != nil {
			t.Skip("openssl not installed")
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		f := t.TempDir() + "/k.pem"
		if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(path, "rsa", "-pubin", "-in", f, "-noout", "-modulus").Output()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1Sum(out)
		if [10]byte(sum[10:]) != fp {
			t.Fatalf("fingerprint differs from SHA-1 of openssl's %q", strings.TrimSpace(string(out)))
		}
	})
	list := "# RSA-2048 test list\n\n" + hexOf(fp[:]) + "\n" + strings.Repeat("ab", 20) + "\n"
	wk, err := ParseWeakKeys(strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	if wk.Len() != 2 || !wk.Contains(k.N) || wk.Contains(other.N) {
		t.Fatalf("list of %d: contains=%v other=%v", wk.Len(), wk.Contains(k.N), wk.Contains(other.N))
	}
	c := NewChecker(Options{DebianWeakKeys: wk})
	wantRefusal(t, c.Check(context.Background(), &k.PublicKey), CodeRSADebianWeak)
	if err := c.Check(context.Background(), &other.PublicKey); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"xyz\n", "abcd\n", strings.Repeat("a", 21) + "\n"} {
		if _, err := ParseWeakKeys(strings.NewReader(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

type mapBlocklist struct {
	blocked map[[32]byte]bool
	err     error
}

func (m *mapBlocklist) IsBlocked(_ context.Context, h [32]byte) (bool, error) {
	return m.blocked[h], m.err
}

func TestBlocklist(t *testing.T) {
	// BR §6.1.1.3(4): a key reported compromised is refused for good.
	k := goodRSA(t)[0]
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h, err := SPKIHash(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	bl := &mapBlocklist{blocked: map[[32]byte]bool{h: true}}
	c := NewChecker(Options{Blocklist: bl})
	ctx := context.Background()
	wantRefusal(t, c.Check(ctx, &k.PublicKey), CodeKeyBlocked)
	wantRefusal(t, c.Check(ctx, k.Public()), CodeKeyBlocked)
	if err := c.Check(ctx, &ec.PublicKey); err != nil {
		t.Fatal(err)
	}
	// Without a Checker there is no blocklist.
	if err := Check(&k.PublicKey); err != nil {
		t.Fatal(err)
	}
	// A failing lookup fails closed, and is not a 400.
	boom := errors.New("database down")
	err = NewChecker(Options{Blocklist: &mapBlocklist{err: boom}}).Check(ctx, &ec.PublicKey)
	if !errors.Is(err, boom) {
		t.Fatalf("want the lookup error, got %v", err)
	}
	if _, isApp := apperr.As(err); isApp {
		t.Fatal("a lookup failure must not look like bad input")
	}
	// A weak key is refused for being weak before the blocklist is asked.
	wantRefusal(t, c.Check(ctx, &rsa.PublicKey{N: k.N, E: 1}), CodeRSAExponentSmall)
}

func TestSPKIHash(t *testing.T) {
	// BR §6.1.1.3(4): the blocklist key is SHA-256 over the DER SPKI; a key
	// from a certificate, a CSR and a private key hash alike.
	rk := goodRSA(t)[0]
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, priv := range []crypto.Signer{rk, ek} {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
			NotBefore: time.Unix(0, 0), NotAfter: time.Unix(86400, 0)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, priv)
		if err != nil {
			t.Fatal(err)
		}
		csr, _ := x509.ParseCertificateRequest(csrDER)
		want := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
		for name, pub := range map[string]crypto.PublicKey{"cert": cert.PublicKey, "csr": csr.PublicKey, "private": priv.Public()} {
			got, err := SPKIHash(pub)
			if err != nil || got != want {
				t.Errorf("%T from %s: %x, %v; want %x", priv, name, got, err, want)
			}
		}
		hx, _ := SPKIHashHex(priv.Public())
		if hx != hexOf(want[:]) {
			t.Errorf("hex %s", hx)
		}
	}
	if _, err := SPKIHash("not a key"); err == nil {
		t.Fatal("hashed a string")
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a, _ := SPKIHash(&ek.PublicKey)
	b, _ := SPKIHash(&other.PublicKey)
	if a == b {
		t.Fatal("two keys, one hash")
	}
}

func BenchmarkCheckRSA2048(b *testing.B) {
	k := goodRSA(b)[0]
	c := NewChecker(Options{})
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := c.Check(ctx, &k.PublicKey); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckECDSAP256(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c := NewChecker(Options{})
	ctx := context.Background()
	for b.Loop() {
		if err := c.Check(ctx, &k.PublicKey); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPackageCheckRSA2048(b *testing.B) {
	k := goodRSA(b)[0]
	for b.Loop() {
		if err := Check(&k.PublicKey); err != nil {
			b.Fatal(err)
		}
	}
}
