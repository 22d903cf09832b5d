# Steward's build. Everything builds with the pure-Go Olm implementation (goolm tag), so
# no C crypto library is needed; go-sqlite3 needs a C compiler (cgo).
GO      ?= go
TAGS    := goolm
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build test unit e2e demo fuzz bench bench-idle bench-monitor bench-backups bench-pings vet clean

build: bin/steward

bin/steward: $(shell find . -name '*.go' -not -path './e2e/*') go.mod go.sum
	CGO_ENABLED=1 $(GO) build -tags $(TAGS) -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/steward

vet:
	$(GO) vet -tags $(TAGS) ./...

# test runs every test: unit tests (with the race detector) and the end-to-end tests
# against a real Dendrite (built once into ~/.cache/steward, about 4 minutes cold).
test: vet
	$(GO) test -tags $(TAGS) -race -count=1 -timeout 40m ./...

unit:
	$(GO) test -tags $(TAGS) -race -count=1 $$($(GO) list ./... | grep -v /e2e)

e2e:
	$(GO) test -tags $(TAGS) -count=1 -timeout 40m -v ./e2e/

# demo starts Dendrite, two co-admins, a member and Steward on loopback, runs a short
# conversation and prints it. DEMO_ONCE=1 stops after the conversation.
demo:
	$(GO) run -tags $(TAGS) ./e2e/demo

# fuzz runs each fuzzer of a parser that takes outside input for FUZZTIME each: the
# command line, Alertmanager's webhook, a ping's action and output, durations, the
# config file, restic's JSON (snapshots, ls, stats), silence matchers and !silence's
# arguments. Their seeds (with the corpora kept in each package's testdata/fuzz) run
# with every make test; what fails is kept there too, to be committed with its fix.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./commands/
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./alertmanager/
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzParseAction$$' -fuzztime $(FUZZTIME) ./jobs/
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzLastLines$$' -fuzztime $(FUZZTIME) ./jobs/
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzParseDuration$$' -fuzztime $(FUZZTIME) ./config/
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./config/
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzParseSnapshots$$' -fuzztime $(FUZZTIME) ./backup/
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzParseList$$' -fuzztime $(FUZZTIME) ./backup/
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzParseStats$$' -fuzztime $(FUZZTIME) ./backup/
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzMatches$$' -fuzztime $(FUZZTIME) ./monitor/
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzMatcherOf$$' -fuzztime $(FUZZTIME) ./commands/
	$(GO) test -tags $(TAGS) -run XXX -fuzz '^FuzzAfterFields$$' -fuzztime $(FUZZTIME) ./commands/

# bench measures the encrypted !ping round trip against a plain message round trip,
# the time from a container dying to its alert being readable, a container's
# downtime during !update next to the same change by hand, the time from
# Alertmanager's webhook to its readable alert, and a webhook of 1,000 alerts.
bench:
	$(GO) test -tags $(TAGS) -count=1 -timeout 30m -run XXX -bench RoundTrip -benchtime 200x ./e2e/
	$(GO) test -tags $(TAGS) -count=1 -timeout 30m -run XXX -bench ContainerDeathToAlert -benchtime 20x ./e2e/
	$(GO) test -tags $(TAGS) -count=1 -timeout 30m -run XXX -bench UpdateDowntime -benchtime 5x ./e2e/
	$(GO) test -tags $(TAGS) -count=1 -timeout 30m -run XXX -bench AlertmanagerWebhookToAlert -benchtime 50x ./e2e/
	$(GO) test -tags $(TAGS) -count=1 -timeout 30m -run XXX -bench AlertmanagerStorm -benchtime 3x ./e2e/

# bench-idle measures an idle Steward's memory and CPU over BENCH_IDLE (default 5m).
bench-idle:
	$(GO) run -tags $(TAGS) ./bench/idle

# bench-monitor measures Steward's memory and CPU while it watches 50 containers and 10
# HTTP endpoints at 30 s intervals, over BENCH_DURATION (default 5m).
bench-monitor:
	$(GO) run -tags $(TAGS) ./bench/monitor

# bench-backups measures a restore drill on a restic repository of 10,000 files and the
# !backups overview of 10 sets: times, Steward's heap and restic's memory.
bench-backups:
	$(GO) run -tags $(TAGS) ./bench/backups

# bench-pings measures the job pings Steward's listener takes per second, token checked
# and each recorded in SQLite before its answer, over loopback HTTP with 1, 8 and 32
# clients; and with 2 KiB of output to mask and keep.
bench-pings:
	$(GO) test -tags $(TAGS) -count=1 -run XXX -bench Ping -benchtime 5000x ./jobs/

clean:
	rm -rf bin
