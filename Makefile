# vetca: the two commands a newcomer needs are `make run` and `make test`.
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 3s
# PostgreSQL for the dual-backend suites; .ci/run exports it, and `make test`
# uses the local server when it is reachable (trust auth, database test).
VETCA_TEST_POSTGRES ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable')
export VETCA_TEST_POSTGRES

# The tests that run goroutines against each other, run again under the race
# detector (the whole suite under it would take several times as long).
RACE_TESTS ?= ^(TestRunLifecycle|TestGroupCommit.*|TestConcurrent.*|Test.*Beside.*|TestSealerUnderConcurrentWriters|TestRolledBackCallerLeavesNoChainTip|TestFinalizeConcurrentCallsSignOnce|TestMemoryConcurrentUse|TestOCSPAnswersFromMemory|TestReplicas.*)$$
RACE_PKGS  ?= ./internal/app/ ./internal/store/ ./internal/audit/ ./internal/order/ ./internal/acme/ ./internal/revocation/ ./internal/validation/ ./internal/bench/

.PHONY: run build test test-short fuzz vet fmt lint bench generate clean

## run: start a development server on SQLite with demo data (sign-in tokens are printed)
run:
	$(GO) run ./cmd/vetca serve --dev

## build: build bin/vetca
build:
	$(GO) build -o bin/vetca ./cmd/vetca

## test: vet, format check, the whole test suite (SQLite always; PostgreSQL when reachable), then every fuzz target briefly
## The suite runs through scripts/testsummary: plain go test output, then the skipped tests
## and why; with VETCA_TEST_REQUIRE_ALL=1 (.ci/run) a skip not in .ci/expected-skips fails.
## A package that hits -timeout ends the output with a digest of its goroutine dump.
test: vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	@if [ -z "$$VETCA_TEST_POSTGRES" ]; then echo "NOTE: VETCA_TEST_POSTGRES unset and no server on 127.0.0.1:5432: PostgreSQL suites will be skipped"; fi
	$(GO) run ./scripts/testsummary -expected .ci/expected-skips -- $(GO) test -json -count=1 -timeout 20m $(PKGS)
	$(GO) run ./scripts/testsummary -require-all=false -- $(GO) test -json -race -count=1 -run '$(RACE_TESTS)' $(RACE_PKGS)
	@$(MAKE) --no-print-directory fuzz

## fuzz: run every fuzz target for FUZZTIME (default 3s) each; a failing input lands in the package's testdata/fuzz/
fuzz:
	GO=$(GO) PKGS='$(PKGS)' FUZZTIME=$(FUZZTIME) scripts/fuzz-smoke.sh

## test-short: the fast subset
test-short:
	$(GO) run ./scripts/testsummary -require-all=false -- $(GO) test -json -short -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## lint: staticcheck (installed on demand at a pinned version)
lint:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

## bench: Go benchmarks of the hot paths (not part of `make test`)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/audit/ ./internal/lint/ ./internal/revocation/crl/

## generate: regenerate embedded data (ISO 3166 from Debian iso-codes)
generate:
	$(GO) generate ./internal/iso3166

clean:
	rm -rf bin
