package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/store"
)

// Timeline entries of an incident's own analysis (IRG v3.2 Root Cause
// Analysis, Lessons Learned, Action Items).
const (
	EventActionItem EventKind = "action_item"
	EventAnalysis   EventKind = "analysis"
)

// ObligationActionItemUpdate is the report update due 3 days after an
// Action Item was changed, completed or delayed (IRG v3.2).
const ObligationActionItemUpdate = "incident_action_item_update"

// SectionActionItem cites the rule.
const SectionActionItem = "CCADB IRG v3.2 (action item changed)"

// Action item kinds and statuses, as IRG v3.2 names them.
var (
	ActionItemKinds    = []string{"Prevent", "Mitigate", "Detect"}
	ActionItemStatuses = []string{"Ongoing", "Complete", "Delayed", "Canceled"}
)

// MaxAnalysisText bounds each text of an action item or an analysis.
const MaxAnalysisText = 4000

// ActionItem is one tracked action item: its state is its latest recorded
// version; every version is an audited event of the incident.
type ActionItem struct {
	ID         string     `json:"id"`
	Title      string     `json:"actionItem"`
	Kind       string     `json:"kind"`
	RootCauses string     `json:"rootCauses"`
	Evaluation string     `json:"evaluationCriteria"`
	Due        *time.Time `json:"dueDate,omitempty"`
	Status     string     `json:"status"`
	// ChangedAt is when this version was recorded; Changed is false for
	// an item's first version.
	ChangedAt time.Time `json:"changedAt"`
	Changed   bool      `json:"changed"`
	// Version counts the item's versions (1 for the first), so the latest
	// is known even within one second.
	Version int `json:"version"`
}

// ActionItemInput adds an action item (no id) or records a new version of
// one (its id); in a new version, a field left empty keeps its value.
type ActionItemInput struct {
	ID         string     `json:"id"`
	Title      string     `json:"actionItem"`
	Kind       string     `json:"kind"`
	RootCauses string     `json:"rootCauses"`
	Evaluation string     `json:"evaluationCriteria"`
	Due        *time.Time `json:"dueDate"`
	Status     string     `json:"status"`
}

// Factor is one contributing factor of the Root Cause Analysis.
type Factor struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Timeline    string `json:"timeline"`
	Detection   string `json:"detection"`
	Interaction string `json:"interaction"`
	Methodology string `json:"methodology"`
}

// Analysis is what only people can write of a report: the contributing
// factors, the lessons learned, whether issuance stopped and, for a
// delay, why. The latest recorded version is the one reported.
type Analysis struct {
	// Version counts the analyses recorded (set by SetAnalysis).
	Version         int      `json:"version"`
	Factors         []Factor `json:"contributingFactors"`
	WentWell        string   `json:"wentWell"`
	DidNotGoWell    string   `json:"didNotGoWell"`
	Lucky           string   `json:"gotLucky"`
	Additional      string   `json:"additional"`
	IssuanceStopped string   `json:"issuanceStopped"`
	ImpactAnalysis  string   `json:"impactAnalysis"`
	Remediation     string   `json:"remediation"`
}

// SetActionItem records an action item or a new version of one. A new
// version of an existing item starts the 3-day update clock (IRG v3.2).
func (s *Service) SetActionItem(ctx context.Context, by actor.Actor, id string, in ActionItemInput) (ActionItem, error) {
	if err := require(by, staffRoles...); err != nil {
		return ActionItem{}, err
	}
	var item ActionItem
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var inc Incident
		if err := s.tab.incidents.Lock(ctx, tx, id, &inc); err != nil {
			return err
		}
		items, err := s.actionItems(ctx, tx, id)
		if err != nil {
			return err
		}
		in.ID = strings.TrimSpace(in.ID)
		i := slices.IndexFunc(items, func(a ActionItem) bool { return a.ID == in.ID })
		if in.ID != "" && i < 0 {
			return apperr.NotFound(apperr.CodeNotFound, "id", "incident %s has no action item %s", id, in.ID)
		}
		if i >= 0 {
			in = items[i].merge(in)
		}
		if item, err = checkActionItem(in); err != nil {
			return err
		}
		if i < 0 {
			item.ID, item.Version = ids.New("act"), 1
		} else {
			item.Changed, item.Version = true, items[i].Version+1
		}
		item.ChangedAt = s.now()
		detail, err := json.Marshal(item)
		if err != nil {
			return fmt.Errorf("incident %s: action item: %w", id, err)
		}
		return s.event(ctx, tx, by, Event{IncidentID: id, Kind: EventActionItem, At: item.ChangedAt, Ref: item.ID, Detail: string(detail)})
	})
	return item, err
}

// merge is in with the fields it leaves empty taken from a.
func (a ActionItem) merge(in ActionItemInput) ActionItemInput {
	keep := func(v *string, old string) {
		if strings.TrimSpace(*v) == "" {
			*v = old
		}
	}
	keep(&in.Title, a.Title)
	keep(&in.Kind, a.Kind)
	keep(&in.RootCauses, a.RootCauses)
	keep(&in.Evaluation, a.Evaluation)
	keep(&in.Status, a.Status)
	if in.Due == nil {
		in.Due = a.Due
	}
	return in
}

func checkActionItem(in ActionItemInput) (ActionItem, error) {
	item := ActionItem{ID: strings.TrimSpace(in.ID), Title: strings.TrimSpace(in.Title), Kind: in.Kind, RootCauses: strings.TrimSpace(in.RootCauses),
		Evaluation: strings.TrimSpace(in.Evaluation), Due: in.Due, Status: in.Status}
	if item.Status == "" {
		item.Status = "Ongoing"
	}
	switch {
	case item.Title == "":
		return item, apperr.Invalid(apperr.CodeMissingField, "actionItem", "describe the action item")
	case !slices.Contains(ActionItemKinds, item.Kind):
		return item, apperr.Invalid(apperr.CodeInvalidValue, "kind", "kind must be one of %s", strings.Join(ActionItemKinds, ", "))
	case !slices.Contains(ActionItemStatuses, item.Status):
		return item, apperr.Invalid(apperr.CodeInvalidValue, "status", "status must be one of %s", strings.Join(ActionItemStatuses, ", "))
	}
	for f, v := range map[string]string{"actionItem": item.Title, "rootCauses": item.RootCauses, "evaluationCriteria": item.Evaluation} {
		if len(v) > MaxAnalysisText {
			return item, apperr.Invalid(apperr.CodeTooLong, f, "%s is longer than %d bytes", f, MaxAnalysisText)
		}
	}
	if item.Due != nil {
		d := item.Due.UTC().Truncate(24 * time.Hour)
		item.Due = &d
	}
	return item, nil
}

// SetAnalysis records a new version of the incident's analysis.
func (s *Service) SetAnalysis(ctx context.Context, by actor.Actor, id string, a Analysis) (Analysis, error) {
	if err := require(by, staffRoles...); err != nil {
		return Analysis{}, err
	}
	texts := []string{a.WentWell, a.DidNotGoWell, a.Lucky, a.Additional, a.IssuanceStopped, a.ImpactAnalysis, a.Remediation}
	for _, f := range a.Factors {
		texts = append(texts, f.Title, f.Description, f.Timeline, f.Detection, f.Interaction, f.Methodology)
	}
	for _, t := range texts {
		if len(t) > MaxAnalysisText {
			return Analysis{}, apperr.Invalid(apperr.CodeTooLong, "analysis", "each text of the analysis is at most %d bytes", MaxAnalysisText)
		}
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var inc Incident
		if err := s.tab.incidents.Lock(ctx, tx, id, &inc); err != nil {
			return err
		}
		prev, err := s.analysis(ctx, tx, id)
		if err != nil {
			return err
		}
		a.Version = prev.Version + 1
		detail, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("incident %s: analysis: %w", id, err)
		}
		return s.event(ctx, tx, by, Event{IncidentID: id, Kind: EventAnalysis, Detail: string(detail)})
	})
	return a, err
}

// actionItems returns each action item's latest version, in the order
// they were added.
func (s *Service) actionItems(ctx context.Context, q store.Querier, id string) ([]ActionItem, error) {
	evs, err := s.tab.events.Select(ctx, q, `WHERE incident_id = ? AND kind = ? ORDER BY at, `+s.tab.events.InsertOrder()+`, id`, id, EventActionItem)
	if err != nil {
		return nil, err
	}
	var out []ActionItem
	for _, e := range evs {
		var a ActionItem
		if err := json.Unmarshal([]byte(e.Detail), &a); err != nil {
			return nil, fmt.Errorf("incident %s: action item event %s: %w", id, e.ID, err)
		}
		if i := slices.IndexFunc(out, func(o ActionItem) bool { return o.ID == a.ID }); i >= 0 {
			if a.Version > out[i].Version {
				out[i] = a
			}
		} else {
			out = append(out, a)
		}
	}
	return out, nil
}

// analysis returns the latest analysis recorded, or a zero one.
func (s *Service) analysis(ctx context.Context, q store.Querier, id string) (Analysis, error) {
	var latest Analysis
	evs, err := s.tab.events.Select(ctx, q, `WHERE incident_id = ? AND kind = ?`, id, EventAnalysis)
	if err != nil {
		return latest, err
	}
	for _, e := range evs {
		var a Analysis
		if err := json.Unmarshal([]byte(e.Detail), &a); err != nil {
			return latest, fmt.Errorf("incident %s: analysis event %s: %w", id, e.ID, err)
		}
		if a.Version > latest.Version {
			latest = a
		}
	}
	return latest, nil
}

// actionItemObligation is the update due 3 days after the latest change of
// an action item that no report posted since covers (IRG v3.2).
func (s *Service) actionItemObligation(ctx context.Context, q store.Querier, inc Incident, at time.Time) ([]Obligation, error) {
	items, err := s.actionItems(ctx, q, inc.ID)
	if err != nil {
		return nil, err
	}
	var last time.Time
	for _, a := range items {
		if a.Changed && !a.ChangedAt.After(at) && a.ChangedAt.After(last) {
			last = a.ChangedAt
		}
	}
	if last.IsZero() || (met(inc.LastUpdateAt, at) && !inc.LastUpdateAt.Before(last)) {
		return nil, nil
	}
	return []Obligation{obligation(ObligationActionItemUpdate, inc.ID, inc, br.IncidentActionItemUpdateDue(last), SectionActionItem, at)}, nil
}
