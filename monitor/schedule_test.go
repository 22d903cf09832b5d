package monitor

import (
	"testing"
	"time"

	"github.com/steward-bot/steward/config"
)

func TestLastSlot(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	monday9 := &config.WeeklySummary{Day: "monday", Hour: 9, Location: time.UTC}
	sunday3Berlin := &config.WeeklySummary{Day: "sunday", Hour: 3, Location: berlin}
	tests := []struct {
		name string
		ws   *config.WeeklySummary
		now  time.Time
		want time.Time
	}{
		{"on the slot", monday9, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)},
		{"later that day", monday9, time.Date(2026, 11, 23, 17, 30, 0, 0, time.UTC), time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)},
		{"earlier that day is last week's", monday9, time.Date(2026, 11, 23, 8, 59, 0, 0, time.UTC), time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC)},
		{"mid-week", monday9, time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)},
		{"sunday before monday's slot", monday9, time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)},
		{"time zone: the slot is in Berlin time", sunday3Berlin, time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC), time.Date(2026, 11, 22, 3, 0, 0, 0, berlin)},
		{"time zone: Saturday in UTC is already Sunday in Berlin", sunday3Berlin, time.Date(2026, 11, 21, 23, 30, 0, 0, time.UTC), time.Date(2026, 11, 15, 3, 0, 0, 0, berlin)},
		{"summer time", sunday3Berlin, time.Date(2026, 7, 5, 1, 0, 0, 0, time.UTC), time.Date(2026, 7, 5, 3, 0, 0, 0, berlin)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WeeklySlot(tt.ws.Weekday(), tt.ws.Hour, tt.ws.Location, tt.now); !got.Equal(tt.want) {
				t.Errorf("WeeklySlot(%s) = %s, want %s", tt.now, got, tt.want)
			}
		})
	}
}
