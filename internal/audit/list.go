package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/vetca/vetca/internal/store"
)

// Filter selects events for auditors (GET /audit/events in docs/api.md).
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

// PageSize is the number of events a page of f holds at most.
func (f Filter) PageSize() int {
	switch {
	case f.Limit <= 0:
		return 100
	case f.Limit > 1000:
		return 1000
	}
	return f.Limit
}

// List returns events matching f, oldest first.
func List(ctx context.Context, q store.Querier, f Filter) ([]Event, error) {
	var where store.Where
	if f.EntityType != "" {
		where.Add("entity_type = ?", f.EntityType)
	}
	if f.EntityID != "" {
		where.Add("entity_id = ?", f.EntityID)
	}
	if f.Actor != "" {
		where.Add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		where.Add("action = ?", f.Action)
	}
	if !f.Since.IsZero() {
		where.Add("at >= ?", store.FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		where.Add("at < ?", store.FormatTime(f.Until))
	}
	if f.After > 0 {
		where.Add("seq > ?", f.After)
	}
	query := "SELECT * FROM audit_events" + where.Clause() + fmt.Sprintf(" ORDER BY seq LIMIT %d", f.PageSize())
	return store.Select[Event](ctx, q, query, where.Args()...)
}
