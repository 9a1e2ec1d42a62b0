package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/store"
)

// verdictCache remembers rows already judged authentic, keyed by a digest
// of exactly what was read: the table, every column's value and the
// signed fields of the vouching event read with them. The same bytes get
// the same verdict, so a row read again unchanged skips the canonical
// encoding, the row hash and the signature lookup; a row that differs in
// any byte (an out-of-band edit) misses and is judged in full. Only
// authentic rows are cached; each caller gets its own copy.
type verdictCache struct {
	mu sync.Mutex
	m  map[[32]byte]store.Row
}

// maxVerdicts bounds the cache; when full it is emptied.
const maxVerdicts = 1 << 14

func newVerdictCache() *verdictCache { return &verdictCache{m: map[[32]byte]store.Row{}} }

func (c *verdictCache) get(k [32]byte) (store.Row, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[k]
	return r, ok
}

func (c *verdictCache) put(k [32]byte, r store.Row) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxVerdicts {
		clear(c.m)
	}
	c.m[k] = r
}

// verdictKey digests a row as read (column -> driver value) with its
// vouch. ok is false when the row's columns are not exactly the table's.
func verdictKey(t *store.Table, vouch string, m map[string]any) (k [32]byte, ok bool) {
	if len(m) != len(t.Columns) {
		return k, false
	}
	h := sha256.New()
	writeField(h, t.Name)
	writeField(h, vouch)
	for _, c := range t.Columns {
		v, ok := m[c.Name]
		if !ok {
			return k, false
		}
		writeField(h, c.Name)
		switch x := v.(type) {
		case nil:
			h.Write([]byte{0})
		case string:
			h.Write([]byte{1})
			writeField(h, x)
		case []byte:
			h.Write([]byte{2})
			writeField(h, string(x))
		case int64:
			h.Write([]byte{3})
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(x)))
		case time.Time:
			h.Write([]byte{4})
			writeField(h, x.UTC().Format(time.RFC3339Nano))
		default:
			h.Write([]byte{5})
			writeField(h, fmt.Sprintf("%T:%v", v, v))
		}
	}
	h.Sum(k[:0])
	return k, true
}
