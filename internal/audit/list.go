package audit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/store"
)

// Filter selects events for auditors (CONTRACT §9).
type Filter struct {
	EntityType string
	EntityID   string
	Actor      string
	Action     string
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	After      int64     // page after this sequence number
	Limit      int       // default 100, at most 1000
}

// List returns events matching f, oldest first.
func List(ctx context.Context, q store.Querier, f Filter) ([]Event, error) {
	var where []string
	var args []any
	if f.EntityType != "" {
		where, args = append(where, "entity_type = ?"), append(args, f.EntityType)
	}
	if f.EntityID != "" {
		where, args = append(where, "entity_id = ?"), append(args, f.EntityID)
	}
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, store.FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, store.FormatTime(f.Until))
	}
	if f.After > 0 {
		where, args = append(where, "seq > ?"), append(args, f.After)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	query := "SELECT * FROM audit_events"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY seq LIMIT %d", limit)
	return store.Select[Event](ctx, q, query, args...)
}
