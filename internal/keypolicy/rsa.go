package keypolicy

import (
	"crypto/rsa"
	"math"
	"math/big"
	"math/bits"
)

// tables holds the small-number data the RSA checks use. A Checker builds
// it once (cheaply) and only reads it afterwards.
type tables struct {
	primes []uint64 // the primes below SmallFactorBound
	// groups packs the primes into products below 2^64, so that a modulus
	// is reduced once per group instead of once per prime.
	groups []primeGroup
	// sq64, sq63, sq65 and sq11 are quadratic-residue tables: squares mod
	// 64, 63, 65 and 11. A number that is not a square modulo one of them is
	// not a square; together they reject about 99% of non-squares.
	sq64 [64]bool
	sq63 [63]bool
	sq65 [65]bool
	sq11 [11]bool
	roca []rocaPrime
}

type primeGroup struct {
	product uint64
	primes  []uint64
}

func newTables() *tables {
	t := &tables{}
	var composite [SmallFactorBound]bool
	for i := 2; i < SmallFactorBound; i++ {
		if composite[i] {
			continue
		}
		t.primes = append(t.primes, uint64(i))
		for j := i * i; j < SmallFactorBound; j += i {
			composite[j] = true
		}
	}
	g := primeGroup{product: 1}
	for _, p := range t.primes {
		if hi, _ := bits.Mul64(g.product, p); hi != 0 {
			t.groups = append(t.groups, g)
			g = primeGroup{product: 1}
		}
		g.product *= p
		g.primes = append(g.primes, p)
	}
	t.groups = append(t.groups, g)
	for i := range 64 {
		t.sq64[i*i%64] = true
	}
	for i := range 63 {
		t.sq63[i*i%63] = true
	}
	for i := range 65 {
		t.sq65[i*i%65] = true
	}
	for i := range 11 {
		t.sq11[i*i%11] = true
	}
	t.roca = newROCATable(t.primes)
	return t
}

// modWord returns x mod m for x >= 0 and 0 < m, reducing x's words from
// the most significant down with bits.Div64 (no big allocation).
func modWord(x *big.Int, m uint64) uint64 {
	ws := x.Bits()
	var r uint64
	if bits.UintSize == 64 {
		for i := len(ws) - 1; i >= 0; i-- {
			_, r = bits.Div64(r, uint64(ws[i]), m)
		}
		return r
	}
	for i := len(ws) - 1; i >= 0; i-- { // 32-bit words: two steps of 32 bits
		hi, lo := bits.Mul64(r, 1<<32)
		lo, c := bits.Add64(lo, uint64(ws[i]), 0)
		_, r = bits.Div64(hi+c, lo, m)
	}
	return r
}

func (c *Checker) checkRSA(k *rsa.PublicKey) error {
	if k.N == nil || k.N.Sign() <= 0 {
		return refuse(CodeRSATooSmall, "the RSA key has no modulus")
	}
	n := k.N
	size := n.BitLen()
	switch {
	case size < MinRSABits:
		return refuse(CodeRSATooSmall, "the RSA modulus has %d bits; at least %d are required (BR §6.1.5)", size, MinRSABits)
	case size > MaxRSABits:
		return refuse(CodeRSATooLarge, "the RSA modulus has %d bits; vetca accepts at most %d", size, MaxRSABits)
	case size%8 != 0:
		return refuse(CodeRSASizeNotByte, "the RSA modulus has %d bits, which is not divisible by 8 (BR §6.1.5)", size)
	}
	e := k.E
	switch {
	case e < MinRSAExponent:
		return refuse(CodeRSAExponentSmall, "the RSA public exponent %d is below 3 (BR §6.1.6)", e)
	case e%2 == 0:
		return refuse(CodeRSAExponentEven, "the RSA public exponent %d is even; it must be odd (BR §6.1.6)", e)
	case e < RecommendedMinRSAExponent && !c.smallExpOK:
		return refuse(CodeRSAExponentSmall,
			"the RSA public exponent %d is below 65537; BR §6.1.6 says it SHOULD be between 2^16+1 and 2^256-1 (use 65537)", e)
	}
	if n.Bit(0) == 0 {
		return refuse(CodeRSAModulusEven, "the RSA modulus is even (BR §6.1.6)")
	}
	var residues [SmallFactorBound]uint64 // residues[p] = n mod p for the small primes p
	for _, g := range c.tables.groups {
		r := modWord(n, g.product)
		for _, p := range g.primes {
			rp := r % p
			if rp == 0 {
				return refuse(CodeRSASmallFactor, "the RSA modulus is divisible by %d; it must have no factor below 752 (BR §6.1.6)", p)
			}
			residues[p] = rp
		}
	}
	if k := c.tables.primePowerExponent(n, &residues); k != 0 {
		return refuse(CodeRSAPrimePower, "the RSA modulus is a perfect %d-th power (BR §6.1.6: not the power of a prime)", k)
	}
	if round, ok := c.fermat(n); ok {
		return refuse(CodeRSAClosePrimes,
			"the RSA modulus has prime factors so close that Fermat's method factors it in round %d (BR §6.1.1.3(5), close primes)", round+1)
	}
	if rocaFingerprint(c.tables.roca, &residues) {
		return refuse(CodeRSAROCA,
			"the RSA key has the ROCA fingerprint (CVE-2017-15361) of vulnerable Infineon key generation (BR §6.1.1.3(5))")
	}
	if c.debian != nil && c.debian.Contains(n) {
		return refuse(CodeRSADebianWeak, "the RSA key is a Debian weak key (CVE-2008-0166; BR §6.1.1.3(5))")
	}
	return nil
}

// isSquare reports whether v (>= 0) is a perfect square, filtering with the
// residue tables before taking an exact integer square root.
func (t *tables) isSquare(v, scratch *big.Int) bool {
	if v.Sign() == 0 {
		return true
	}
	if !t.sq64[uint64(v.Bits()[0])&63] {
		return false
	}
	r := modWord(v, 63*65*11)
	if !t.sq63[r%63] || !t.sq65[r%65] || !t.sq11[r%11] {
		return false
	}
	scratch.Sqrt(v)
	scratch.Mul(scratch, scratch)
	return scratch.Cmp(v) == 0
}

// fermat runs Fermat's factorization method for c.rounds rounds: with a
// starting at ceil(sqrt(n)), round i tests whether (a+i)^2 - n is a perfect
// square b^2, in which case n = (a+i-b)(a+i+b). It returns the round that
// succeeded. This is the check BR §6.1.1.3(5)(c) prescribes (see
// https://fermatattack.secvuln.info/): it finds primes whose distance is
// small relative to n^(1/4).
func (c *Checker) fermat(n *big.Int) (round int, found bool) {
	one := big.NewInt(1)
	a := new(big.Int).Sqrt(n)
	b2 := new(big.Int).Mul(a, a)
	if b2.Cmp(n) < 0 {
		a.Add(a, one)
		b2.Mul(a, a)
	}
	b2.Sub(b2, n) // a^2 - n
	step := new(big.Int)
	scratch := new(big.Int)
	for i := 0; i < c.rounds; i++ {
		if c.tables.isSquare(b2, scratch) {
			return i, true
		}
		// (a+1)^2 - n = a^2 - n + 2a + 1
		step.Lsh(a, 1)
		step.Add(step, one)
		b2.Add(b2, step)
		a.Add(a, one)
	}
	return 0, false
}

// primePowerExponent returns k >= 2 if n is a perfect k-th power, else 0.
// Only prime k need testing (a perfect (ab)-th power is a perfect a-th
// power), and since n has no factor below 752, k <= log_752(n).
//
// Most k are ruled out without big arithmetic: if n = x^k and p is a prime
// with p ≡ 1 (mod k) not dividing n, then n mod p is a k-th power residue,
// i.e. (n mod p)^((p-1)/k) ≡ 1 (mod p) (Euler's criterion), which a random
// residue satisfies with probability 1/k. The small primes below 752 and
// their residues are already at hand. For k whose root is at most 32 bits,
// a floating-point root and a comparison modulo 2^64 settle it; otherwise
// an exact integer root is taken.
func (t *tables) primePowerExponent(n *big.Int, residues *[SmallFactorBound]uint64) int {
	size := n.BitLen()
	maxK := int(float64(size)/math.Log2(SmallFactorBound)) + 1
	low := uint64(n.Bits()[0])
	if bits.UintSize == 32 && len(n.Bits()) > 1 {
		low |= uint64(n.Bits()[1]) << 32
	}
	scratch := new(big.Int)
next:
	for k := 2; k <= maxK; k++ {
		if !isSmallPrime(k) {
			continue
		}
		uk := uint64(k)
		for _, p := range t.primes {
			if p%uk == 1 && powMod(residues[p], (p-1)/uk, p) != 1 {
				continue next
			}
		}
		if float64(size)/float64(k) <= 32 {
			if smallRootPower(n, low, k, scratch) {
				return k
			}
			continue
		}
		if r := kthRoot(n, k); scratch.Exp(r, big.NewInt(int64(k)), nil).Cmp(n) == 0 {
			return k
		}
	}
	return 0
}

// smallRootPower decides n = r^k when the root r is below 2^33: it tries
// the integers next to the floating-point root (whose error is far below 1
// at that size), compares r^k with n modulo
// 2^64 (wrapping uint64 arithmetic), and confirms a match exactly.
func smallRootPower(n *big.Int, low uint64, k int, scratch *big.Int) bool {
	est := math.Exp2(log2Big(n) / float64(k))
	for _, d := range []float64{-1, 0, 1} {
		r := uint64(math.Round(est) + d)
		if r < SmallFactorBound {
			continue
		}
		pw := uint64(1)
		for range k {
			pw *= r
		}
		if pw != low {
			continue
		}
		if scratch.Exp(new(big.Int).SetUint64(r), big.NewInt(int64(k)), nil).Cmp(n) == 0 {
			return true
		}
	}
	return false
}

func powMod(b, e, m uint64) uint64 {
	r := uint64(1)
	b %= m
	for e > 0 {
		if e&1 == 1 {
			r = r * b % m
		}
		b = b * b % m
		e >>= 1
	}
	return r
}

func isSmallPrime(k int) bool {
	if k < 2 {
		return false
	}
	for d := 2; d*d <= k; d++ {
		if k%d == 0 {
			return false
		}
	}
	return true
}

// log2Big returns log2(n) for n > 0 to about 50 significant bits.
func log2Big(n *big.Int) float64 {
	size := n.BitLen()
	shift := 0
	if size > 64 {
		shift = size - 64
	}
	top := new(big.Int).Rsh(n, uint(shift)).Uint64()
	return math.Log2(float64(top)) + float64(shift)
}

// kthRoot returns floor(n^(1/k)) for n > 0 and k >= 2. It starts Newton's
// iteration from a floating-point estimate of n^(1/k) raised by 2^-30 (so
// the start is above the root and the decreasing Newton sequence converges
// to the floor quadratically) instead of from a power of two, which for
// large k would need about k steps.
func kthRoot(n *big.Int, k int) *big.Int {
	e := log2Big(n) / float64(k) // log2 of the root
	ip := math.Floor(e)
	mant := math.Exp2(e-ip) * (1 + 0x1p-30)
	f := new(big.Float).SetMantExp(big.NewFloat(mant), int(ip))
	x, _ := f.Int(nil)
	x.Add(x, big.NewInt(2))

	bk := big.NewInt(int64(k))
	bk1 := big.NewInt(int64(k - 1))
	pow := new(big.Int)
	y := new(big.Int)
	for {
		// y = ((k-1)x + n / x^(k-1)) / k
		pow.Exp(x, bk1, nil)
		y.Quo(n, pow)
		pow.Mul(x, bk1)
		y.Add(y, pow)
		y.Quo(y, bk)
		if y.Cmp(x) >= 0 {
			return x
		}
		x.Set(y)
	}
}
