package monitor

import (
	"testing"
	"time"
)

const gib = 1 << 30

func TestUsageHistoryFullIn(t *testing.T) {
	start := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	// series returns n samples every step from start, use growing by perHour.
	type sample struct {
		at   time.Time
		used float64
	}
	series := func(from time.Time, n int, step time.Duration, used0, perHour float64) []sample {
		var out []sample
		for i := range n {
			at := from.Add(time.Duration(i) * step)
			out = append(out, sample{at, used0 + perHour*at.Sub(from).Hours()})
		}
		return out
	}
	tests := []struct {
		name    string
		samples []sample
		free    float64
		want    time.Duration // 0: no forecast
	}{
		{"too few samples", series(start, forecastMinSamples-1, time.Hour, 10*gib, gib), 10 * gib, 0},
		{"too short a span", series(start, 20, time.Minute, 10*gib, gib), 10 * gib, 0},
		{"steady growth", series(start, 7, 10*time.Minute, 10*gib, gib), 10 * gib, 10 * time.Hour},
		{"just enough history", series(start, forecastMinSamples, 6*time.Minute, 10*gib, gib), 10 * gib, 10 * time.Hour},
		{"fast growth", series(start, 12, 5*time.Minute, 10*gib, 4*gib), 2 * gib, 30 * time.Minute},
		{"shrinking use", series(start, 12, 10*time.Minute, 50*gib, -gib), 10 * gib, 0},
		{"flat use", series(start, 12, 10*time.Minute, 50*gib, 0), 10 * gib, 0},
		{"full beyond a year", series(start, 12, 10*time.Minute, 50*gib, 1<<20), 10 * 1 << 40, 0},
		{
			// Use fell sharply hours ago (a cleanup); only the last 6 hours count,
			// and they grow.
			"samples older than the window are dropped",
			append(series(start, 12, 10*time.Minute, 200*gib, -10*gib),
				series(start.Add(8*time.Hour), 7, 10*time.Minute, 10*gib, gib)...),
			10 * gib, 10 * time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h usageHistory
			for _, s := range tt.samples {
				h.add(s.at, s.used)
			}
			got, ok := h.fullIn(tt.free)
			if tt.want == 0 {
				if ok {
					t.Errorf("fullIn = %s, want no forecast", got)
				}
				return
			}
			if !ok {
				t.Fatalf("no forecast, want %s", tt.want)
			}
			if diff := (got - tt.want).Abs(); diff > time.Second {
				t.Errorf("fullIn = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestHumanForecast(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Minute, "about 30 minutes"},
		{10 * time.Hour, "about 10 hours"},
		{10*time.Hour + 31*time.Minute, "about 11 hours"},
		{72 * time.Hour, "about 3 days"},
	}
	for _, tt := range tests {
		if got := humanForecast(tt.d); got != tt.want {
			t.Errorf("humanForecast(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// A forecast under two minutes reads "about a minute", not "about 1 minutes" (as
// humanDuration already does for the past).
func TestHumanForecastUnderTwoMinutes(t *testing.T) {
	for _, d := range []time.Duration{10 * time.Second, 90 * time.Second} {
		if got := humanForecast(d); got != "about a minute" {
			t.Errorf("humanForecast(%s) = %q, want %q", d, got, "about a minute")
		}
	}
}
