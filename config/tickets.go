package config

import (
	"fmt"
)

// Tickets is how members' requests for help and abuse reports are handled.
type Tickets struct {
	// AbuseDeadline is how long the admins have to answer an abuse report.
	AbuseDeadline Duration `yaml:"abuse_deadline" default:"24h" min:"1m"`
	// RemindBefore is how long before an abuse report's deadline the admins are
	// reminded.
	RemindBefore Duration `yaml:"remind_before" default:"2h"`
	// MaxPerDay is how many tickets one member may open in a day.
	MaxPerDay int `yaml:"max_per_day" default:"5" min:"1"`
	// Retention is how long a closed ticket keeps its messages' text; the decision
	// stays.
	Retention Duration `yaml:"retention" default:"90d" min:"24h"`
	// Categories are the kinds of abuse a report can name (!report CATEGORY TEXT).
	Categories []string `yaml:"categories" default:"[spam, harassment, illegal, other]"`
	// SignReplies relays admins' answers to members with the admin's name instead
	// of as Steward's.
	SignReplies bool `yaml:"sign_replies"`
}

// checkTickets validates the tickets section beyond its declared bounds.
func (v *validator) checkTickets(t *Tickets) {
	// The reminder must come before the deadline it reminds of.
	if t.RemindBefore < 0 || (v.inBounds("tickets.abuse_deadline") && t.RemindBefore >= t.AbuseDeadline) {
		v.invalid("tickets.remind_before", fmt.Sprintf("must be from 0s to less than tickets.abuse_deadline (%s), got %s", t.AbuseDeadline, t.RemindBefore))
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
