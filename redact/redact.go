// Package redact hides what looks like secrets (passwords, tokens, keys) in text that
// came from elsewhere (container logs, health-check output, error messages) before it
// reaches a room or the decision log.
package redact

import "regexp"

// secretPatterns find what looks like a secret in a log line. Each keeps its first
// group (the label) and replaces the rest, so the reader still sees what was there.
var secretPatterns = []*regexp.Regexp{
	// Credentials in a URL: scheme://user:password@host, the user possibly empty and
	// the password possibly holding / and @ (up to the last @ of the address).
	regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)\S+(@[^\s@/]+)`),
	// Authorization headers and bearer tokens.
	regexp.MustCompile(`(?i)(\b(?:bearer|basic|token)\s+)[a-z0-9._~+/=-]{8,}`),
	// key=value and key: value where the key names a secret.
	regexp.MustCompile(`(?i)(\b[a-z0-9_.-]*(?:password|passwd|pass|pwd|pw|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth|credential|session)[a-z0-9_.-]*["']?\s*[=:]\s*["']?)(?:(?:bearer|basic|token)\s+)?[^\s"',;&]+`),
	// Command-line flags: --password hunter2, -p is too short to tell.
	regexp.MustCompile(`(?i)(--?[a-z0-9-]*(?:password|passwd|pass|token|secret|api-key|apikey|access-key)\s+)[^\s-]\S*`),
	// JSON Web Tokens, wherever they are.
	regexp.MustCompile(`()eyJ[a-zA-Z0-9_-]{5,}\.[a-zA-Z0-9_-]{5,}\.[a-zA-Z0-9_-]{5,}`),
	// Well-known token formats: GitHub, Slack, AWS access keys, Matrix access tokens.
	regexp.MustCompile(`()\b(?:gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|syt_[A-Za-z0-9_]{10,}|mat_[A-Za-z0-9_]{10,})`),
}

// Secrets hides what looks like passwords, tokens and keys in s. It errs on the side of
// hiding: a masked harmless value costs a look at the server, a leaked password costs
// much more.
func Secrets(s string) string {
	for i, re := range secretPatterns {
		if i == 0 {
			s = re.ReplaceAllString(s, "${1}•••${2}")
			continue
		}
		s = re.ReplaceAllString(s, "${1}•••")
	}
	return s
}
