package commands

import (
	"errors"
	"strings"
	"unicode"
)

// ErrUnclosedQuote is returned for a command line whose quote is never closed.
var ErrUnclosedQuote = errors.New("a quote is not closed")

// ErrTrailingBackslash is returned for a command line that ends in a lone backslash.
var ErrTrailingBackslash = errors.New("the line ends with a lone backslash")

// Parsed is a command line split into the command's name and its arguments.
type Parsed struct {
	// Name is the command name, lower-cased.
	Name string
	// Args are the arguments with quotes removed.
	Args []string
	// Rest is the text after the name as typed, for commands that take free text.
	Rest string
}

// Parse splits a message body that starts with prefix into a command. ok is false when
// the body is not a command at all (no prefix, or nothing after it); err says why a
// command line could not be split.
//
// Arguments are separated by white space; single quotes keep everything literally,
// double quotes allow backslash escapes, and the curly quotes that phones put in (“ ”
// ‘ ’) count as straight ones.
func Parse(body, prefix string) (p Parsed, ok bool, err error) {
	body = strings.TrimSpace(body)
	if prefix == "" || !strings.HasPrefix(body, prefix) {
		return Parsed{}, false, nil
	}
	line := body[len(prefix):]
	nameEnd := strings.IndexFunc(line, unicode.IsSpace)
	if nameEnd < 0 {
		nameEnd = len(line)
	}
	p.Name = strings.ToLower(line[:nameEnd])
	if p.Name == "" {
		return Parsed{}, false, nil
	}
	p.Rest = strings.TrimSpace(line[nameEnd:])
	p.Args, err = SplitArgs(p.Rest)
	return p, true, err
}

// SplitArgs splits s into arguments, honouring quotes and backslashes as Parse does.
func SplitArgs(s string) ([]string, error) {
	args := []string{}
	var cur strings.Builder
	inArg := false
	var quote rune // 0, '\'' or '"'
	escaped := false
	for _, r := range s {
		switch r {
		case '“', '”', '„':
			r = '"'
		case '‘', '’':
			r = '\''
		}
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inArg = true, true
		case r == '\'' || r == '"':
			quote, inArg = r, true
		case unicode.IsSpace(r):
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	switch {
	case quote != 0:
		return nil, ErrUnclosedQuote
	case escaped:
		return nil, ErrTrailingBackslash
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}
