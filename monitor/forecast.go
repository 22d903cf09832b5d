package monitor

import (
	"fmt"
	"time"
)

// The forecast looks at the last forecastWindow of disk use, and only forecasts once it
// has seen enough of it: a burst of writes over a minute says little about next week.
const (
	forecastWindow     = 6 * time.Hour
	forecastMinSpan    = 30 * time.Minute
	forecastMinSamples = 6
	forecastHorizon    = 365 * 24 * time.Hour
)

type usageSample struct {
	at   time.Time
	used float64
}

// usageHistory holds a filesystem's recent use, for the forecast.
type usageHistory struct {
	samples []usageSample
}

func (h *usageHistory) add(at time.Time, used float64) {
	h.samples = append(h.samples, usageSample{at, used})
	cut := 0
	for cut < len(h.samples) && at.Sub(h.samples[cut].at) > forecastWindow {
		cut++
	}
	h.samples = h.samples[cut:]
}

// slope is the growth in bytes per second, by least squares over the window; 0 while
// there is too little history.
func (h *usageHistory) slope() float64 {
	n := len(h.samples)
	if n < forecastMinSamples || h.samples[n-1].at.Sub(h.samples[0].at) < forecastMinSpan {
		return 0
	}
	t0 := h.samples[0].at
	var sumX, sumY, sumXY, sumXX float64
	for _, s := range h.samples {
		x := s.at.Sub(t0).Seconds()
		sumX, sumY, sumXY, sumXX = sumX+x, sumY+s.used, sumXY+x*s.used, sumXX+x*x
	}
	fn := float64(n)
	den := fn*sumXX - sumX*sumX
	if den == 0 {
		return 0
	}
	return (fn*sumXY - sumX*sumY) / den
}

// fullIn says when free bytes run out at the current rate; ok is false when use is
// not growing (or too little is known).
func (h *usageHistory) fullIn(free float64) (time.Duration, bool) {
	rate := h.slope()
	if rate <= 0 {
		return 0, false
	}
	secs := free / rate
	if secs > forecastHorizon.Seconds() {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// humanForecast says a span ahead the way a person would: "about 3 days".
func humanForecast(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return "about a minute"
	case d < time.Hour:
		return fmt.Sprintf("about %d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("about %d hours", int(d.Hours()+0.5))
	default:
		return fmt.Sprintf("about %d days", int(d.Hours()/24+0.5))
	}
}
