package state

import (
	"database/sql"

	"go.mau.fi/util/random"
)

// shortIDAlphabet has no letters or digits that are easily confused (0/O, 1/I/L,
// 2/Z, 5/S, 6/G, 8/B), so an ID read off a phone is typed right.
const shortIDAlphabet = "ACDEFHJKMNPQRTUVWXY3479"

// insertShortID gives *id fresh four-letter IDs, short for people to type, until
// insert stores its row. insert must skip an ID that is taken (ON CONFLICT (id) DO
// NOTHING) rather than fail; after 20 taken IDs it gives up with full.
func insertShortID(id *string, full error, insert func() (sql.Result, error)) error {
	for range 20 {
		*id = random.StringCharset(4, shortIDAlphabet)
		res, err := insert()
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
	}
	return full
}
