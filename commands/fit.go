package commands

import (
	"fmt"

	"github.com/steward-bot/steward/render"
)

// fitRows builds a listing from as many of rows as fit in one message: the whole
// list when it fits, else the longest run of whole rows that does, followed by a note
// of how many were left out and how to see them (hint, like "use !containers HOST").
// The outbox would otherwise cut a long table in the middle of a row, or the
// homeserver refuse it and the answer be lost.
//
// build makes the message from a prefix of rows; it is called about log2(len(rows))
// times, so it must not have side effects.
func fitRows(rows [][]string, hint string, build func(rows [][]string) *render.Message) *render.Message {
	if msg := build(rows); msg.Fits() {
		return msg
	}
	cut := func(keep int) *render.Message {
		msg := build(rows[:keep])
		note := fmt.Sprintf("… and %d more", len(rows)-keep)
		if hint != "" {
			note += "; " + hint
		}
		return msg.Line().Text(note + ".")
	}
	// The most rows that fit with the note; no row at all still says how many.
	lo, hi := 0, len(rows)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if cut(mid).Fits() {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return cut(lo)
}
