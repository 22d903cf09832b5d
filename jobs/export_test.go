package jobs

import (
	"context"
	"time"
)

// Step runs one pass of the notices, for tests that move the clock themselves.
func (n *Notices) Step(ctx context.Context) (time.Duration, error) { return n.step(ctx) }
