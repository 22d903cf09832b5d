// Package upgrades holds Steward's numbered SQL migrations. They are embedded in the
// binary and applied in order at start, so a database written by an older Steward is
// brought forward before anything reads it.
package upgrades

import (
	"embed"

	"go.mau.fi/util/dbutil"
)

//go:embed *.sql
var rawUpgrades embed.FS

// Table is the ordered list of migrations, read from the embedded *.sql files.
var Table = dbutil.BuildUpgradeTable().WithFS(rawUpgrades).Finish()
