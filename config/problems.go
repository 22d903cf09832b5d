package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Problem is one thing wrong with the config file. Key is the dotted path of
// the setting, e.g. "matrix.admins[1]"; it is empty for problems with the file
// as a whole. Line is 1-based, or 0 when the setting is missing from the file.
type Problem struct {
	Key  string
	Line int
	Msg  string
}

// String formats the problem as one line, e.g.
// `matrix.stale_after (line 7): not a duration: "ten"`.
func (p Problem) String() string {
	switch {
	case p.Key != "" && p.Line > 0:
		return fmt.Sprintf("%s (line %d): %s", p.Key, p.Line, p.Msg)
	case p.Key != "":
		return p.Key + ": " + p.Msg
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	default:
		return p.Msg
	}
}

// Problems is every problem found in one config file. Load and Parse return
// it (as *Problems) so the operator can fix the whole file in one go.
type Problems []Problem

// Error lists the problems one per line, in file order, missing keys last.
func (p Problems) Error() string {
	lines := make([]string, len(p))
	for i, pr := range p {
		lines[i] = pr.String()
	}
	return strings.Join(lines, "\n")
}

func lineOrder(line int) int {
	if line <= 0 {
		return math.MaxInt32
	}
	return line
}

// syntaxProblem turns a yaml parse error ("yaml: line 3: did not find
// expected key") into a Problem with the line split out.
func syntaxProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				return Problem{Line: line, Msg: "not valid YAML: " + text}
			}
		}
	}
	return Problem{Msg: "not valid YAML: " + msg}
}
