package config

import (
	"fmt"
	"time"
)

// Tickets is how members' requests for help and abuse reports are handled.
type Tickets struct {
	// AbuseDeadline is how long the admins have to answer an abuse report.
	AbuseDeadline Duration `yaml:"abuse_deadline"`
	// RemindBefore is how long before an abuse report's deadline the admins are
	// reminded.
	RemindBefore Duration `yaml:"remind_before"`
	// MaxPerDay is how many tickets one member may open in a day.
	MaxPerDay int `yaml:"max_per_day"`
	// Retention is how long a closed ticket keeps its messages' text; the decision
	// stays.
	Retention Duration `yaml:"retention"`
	// Categories are the kinds of abuse a report can name (!report CATEGORY TEXT).
	Categories []string `yaml:"categories"`
	// SignReplies relays admins' answers to members with the admin's name instead
	// of as Steward's.
	SignReplies bool `yaml:"sign_replies"`
}

// Defaults of the tickets section.
const (
	DefaultAbuseDeadline = Duration(24 * time.Hour)
	DefaultRemindBefore  = Duration(2 * time.Hour)
	DefaultMaxPerDay     = 5
	DefaultRetention     = Duration(90 * 24 * time.Hour)
)

// DefaultCategories are the kinds of abuse reports name by default.
var DefaultCategories = []string{"spam", "harassment", "illegal", "other"}

func (v *validator) ticketDefaults(t *Tickets) {
	setDefault(v, "tickets.abuse_deadline", &t.AbuseDeadline, DefaultAbuseDeadline)
	setDefault(v, "tickets.remind_before", &t.RemindBefore, DefaultRemindBefore)
	setDefault(v, "tickets.max_per_day", &t.MaxPerDay, DefaultMaxPerDay)
	setDefault(v, "tickets.retention", &t.Retention, DefaultRetention)
	setDefault(v, "tickets.categories", &t.Categories, DefaultCategories)
}

func (v *validator) checkTickets(t *Tickets) {
	if t.AbuseDeadline < Duration(time.Minute) {
		v.invalid("tickets.abuse_deadline", fmt.Sprintf("must be at least 1m, got %s", t.AbuseDeadline))
	}
	if t.RemindBefore < 0 || (t.AbuseDeadline >= Duration(time.Minute) && t.RemindBefore >= t.AbuseDeadline) {
		v.invalid("tickets.remind_before", fmt.Sprintf("must be from 0s to less than tickets.abuse_deadline (%s), got %s", t.AbuseDeadline, t.RemindBefore))
	}
	if t.MaxPerDay < 1 {
		v.invalid("tickets.max_per_day", fmt.Sprintf("must be at least 1, got %d", t.MaxPerDay))
	}
	if t.Retention < Duration(24*time.Hour) {
		v.invalid("tickets.retention", fmt.Sprintf("must be at least 24h, got %s", t.Retention))
	}
	seen := map[string]bool{}
	for i, c := range t.Categories {
		key := fmt.Sprintf("tickets.categories[%d]", i)
		switch {
		case !backupSetName.MatchString(c):
			v.invalid(key, fmt.Sprintf("a category is one lower-case word (letters, digits, - and _), got %q", c))
		case seen[c]:
			v.invalid(key, fmt.Sprintf("%q is listed twice", c))
		}
		seen[c] = true
	}
}
