//go:build dendrite

// Package homeserver pins the Dendrite release that the end-to-end tests run against.
// It lives in its own module so that Steward's go.mod never requires Dendrite; the
// binaries are built with `go build -tags dendrite` (see build.sh).
package homeserver

import (
	_ "github.com/element-hq/dendrite/cmd/create-account"
	_ "github.com/element-hq/dendrite/cmd/dendrite"
	_ "github.com/element-hq/dendrite/cmd/generate-config"
	_ "github.com/element-hq/dendrite/cmd/generate-keys"
)
