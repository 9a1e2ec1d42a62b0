package crl

import "math/big"

// serialSet finds repeated serials among a shard's entries in one pass. It is
// an open-addressing hash table of entry indexes, sized to at most half full,
// hashing the serial's words in place: no per-entry allocation, about 8 bytes
// of table per entry.
type serialSet struct {
	slots []int32 // entry index + 1; 0 is empty
	mask  uint64
}

func (s *serialSet) init(n int) {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	s.slots = make([]int32, size)
	s.mask = uint64(size - 1)
}

// add records entries[i] and returns the index of an earlier entry with the
// same serial, or -1.
func (s *serialSet) add(entries []Entry, i int) int {
	serial := entries[i].Serial
	slot := hashSerial(serial) & s.mask
	for {
		j := s.slots[slot]
		if j == 0 {
			s.slots[slot] = int32(i + 1)
			return -1
		}
		if entries[j-1].Serial.Cmp(serial) == 0 {
			return int(j - 1)
		}
		slot = (slot + 1) & s.mask
	}
}

// hashSerial mixes the serial's words (a 64-bit FNV-style combine followed by
// the SplitMix64 finalizer). Quality only matters for speed: equality is
// always confirmed with Cmp.
func hashSerial(x *big.Int) uint64 {
	h := uint64(14695981039346656037)
	for _, w := range x.Bits() {
		h ^= uint64(w)
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
