package crl_test

import (
	"math"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/revocation/crl"
)

// TestShardForGolden pins the shard algorithm. A certificate's shard is
// stored at issuance and written into its CRL distribution point; if these
// values ever change, live certificates would point at CRLs that do not list
// them (the coverage failure behind Mozilla bug 1793114). Do not update the
// table: a change here is a bug. The values were computed by a separate
// Python implementation of the documented algorithm:
//
//	(int.from_bytes(sha256(b"vetca/crl/shard/v1\x00" + magnitude).digest()[:8]) * shards) >> 64
func TestShardForGolden(t *testing.T) {
	hex := func(s string) *big.Int {
		v, ok := new(big.Int).SetString(s, 16)
		if !ok {
			t.Fatal(s)
		}
		return v
	}
	tests := []struct {
		serial string
		shards int
		want   int
	}{
		{"1", 1, 0},
		{"1", 128, 48},
		{"2", 128, 100},
		{"7f3a9c0d5e2b14a6", 16, 10},
		{"7f3a9c0d5e2b14a6", 128, 82},
		{"00c0ffee00c0ffee00c0ffee", 10, 3},
		{"4ab1e3c2d9f08e7a6b5c4d3e2f1a0b9c8d7e6f5a", 128, 74},
		{"4ab1e3c2d9f08e7a6b5c4d3e2f1a0b9c8d7e6f5a", 65536, 38052},
	}
	for _, tc := range tests {
		if got := crl.ShardFor(hex(tc.serial), tc.shards); got != tc.want {
			t.Errorf("ShardFor(%s, %d) = %d, want %d", tc.serial, tc.shards, got, tc.want)
		}
	}
}

// TestShardForSpread checks the spread over shards with a chi-square test,
// for random serials and for sequential ones (a serial source with structure
// must not pile certificates into one shard). The random source is seeded,
// so the test is deterministic; the bound is the 99.99th percentile.
func TestShardForSpread(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	const n = 64000
	for _, shards := range []int{2, 10, 16, 128} {
		for _, kind := range []string{"random", "sequential"} {
			counts := make([]int, shards)
			base := randomSerial(r)
			for i := 0; i < n; i++ {
				s := randomSerial(r)
				if kind == "sequential" {
					s = new(big.Int).Add(base, big.NewInt(int64(i)))
				}
				k := crl.ShardFor(s, shards)
				if k < 0 || k >= shards {
					t.Fatalf("shard %d outside [0,%d)", k, shards)
				}
				counts[k]++
			}
			exp := float64(n) / float64(shards)
			chi := 0.0
			for _, c := range counts {
				d := float64(c) - exp
				chi += d * d / exp
			}
			// Wilson-Hilferty approximation of the chi-square 99.99% quantile.
			df := float64(shards - 1)
			z := 3.719
			limit := df * math.Pow(1-2/(9*df)+z*math.Sqrt(2/(9*df)), 3)
			if chi > limit {
				t.Errorf("%s serials over %d shards: chi-square %.1f > %.1f; counts %v", kind, shards, chi, limit, counts)
			}
		}
	}
}

// TestShardForIgnoresRepresentation checks the shard depends only on the
// serial's value, not on how the big.Int was built.
func TestShardForIgnoresRepresentation(t *testing.T) {
	a, _ := new(big.Int).SetString("00000000000000ff00", 16)
	b := new(big.Int).SetBytes([]byte{0xff, 0x00})
	if crl.ShardFor(a, 97) != crl.ShardFor(b, 97) {
		t.Error("same value, different shard")
	}
}

func TestShardForPanicsOnBadCount(t *testing.T) {
	for _, n := range []int{0, -1, crl.MaxShards + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ShardFor(_, %d) did not panic", n)
				}
			}()
			crl.ShardFor(big.NewInt(1), n)
		}()
		if crl.CheckShardCount(n) == nil {
			t.Errorf("CheckShardCount(%d) passed", n)
		}
	}
	if crl.CheckShardCount(1) != nil || crl.CheckShardCount(crl.MaxShards) != nil {
		t.Error("CheckShardCount refused a valid count")
	}
}

func TestShardURL(t *testing.T) {
	tests := []struct {
		base, issuer string
		shard        int
		want         string
	}{
		{"http://127.0.0.1:8080", "7f3a9c", 3, "http://127.0.0.1:8080/crl/7f3a9c/3.crl"},
		{"http://crl.vetca.test/", "7f3a9c", 0, "http://crl.vetca.test/crl/7f3a9c/0.crl"},
		{"http://crl.vetca.test/base", "a b/c", 12, "http://crl.vetca.test/base/crl/a%20b%2Fc/12.crl"},
	}
	for _, tc := range tests {
		got := crl.ShardURL(tc.base, tc.issuer, tc.shard)
		if got != tc.want {
			t.Errorf("ShardURL(%q, %q, %d) = %q, want %q", tc.base, tc.issuer, tc.shard, got, tc.want)
		}
		if err := crl.CheckURL(got); err != nil {
			t.Errorf("ShardURL result %q fails CheckURL: %v", got, err)
		}
		name := got[strings.LastIndex(got, "/")+1:]
		if n, err := crl.ParseShardFileName(name); err != nil || n != tc.shard {
			t.Errorf("ParseShardFileName(%q) = %d, %v", name, n, err)
		}
	}
}

func TestParseShardFileNameIsStrict(t *testing.T) {
	for _, name := range []string{"", ".crl", "03.crl", "+3.crl", "-3.crl", "3.CRL", "3.crl.bak", "3", "x.crl", "3 .crl", "65536.crl", "9999999.crl", "0x3.crl"} {
		if n, err := crl.ParseShardFileName(name); err == nil {
			t.Errorf("ParseShardFileName(%q) = %d, want an error", name, n)
		}
	}
	for name, want := range map[string]int{"0.crl": 0, "10.crl": 10, "65535.crl": 65535} {
		if n, err := crl.ParseShardFileName(name); err != nil || n != want {
			t.Errorf("ParseShardFileName(%q) = %d, %v", name, n, err)
		}
	}
}

// TestCCADBPartitionedCRLs checks the CCADB Policy §6.2 JSON array.
func TestCCADBPartitionedCRLs(t *testing.T) {
	u := func(i int) string { return crl.ShardURL("http://crl.vetca.test", "iss", i) }
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"sorted and distinct", []string{u(2), u(0), u(2), u(1)}, `["http://crl.vetca.test/crl/iss/0.crl","http://crl.vetca.test/crl/iss/1.crl","http://crl.vetca.test/crl/iss/2.crl"]`},
		{"no HTML escaping", []string{"http://crl.vetca.test/a&b<c>/1.crl"}, `["http://crl.vetca.test/a&b<c>/1.crl"]`},
		{"nothing issued yet", nil, `[""]`},
	}
	for _, tc := range tests {
		got, err := crl.PartitionedCRLsJSON(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if string(got) != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	in := []string{u(1), u(0)}
	if _, err := crl.PartitionedCRLsJSON(in); err != nil || in[0] != u(1) {
		t.Error("PartitionedCRLsJSON changed its input slice")
	}
	for _, bad := range []string{"", "https://crl.vetca.test/crl/iss/0.crl", "ftp://x/1.crl", "http://x/ 1.crl"} {
		if _, err := crl.PartitionedCRLsJSON([]string{u(0), bad}); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
