#!/usr/bin/env bash
# fuzz-smoke.sh runs every Go fuzz target of the module for a short while, as
# part of `make test`.
#
# `go test -fuzz` takes one target per package per run, and relinks the test
# binary each time. So the script builds each package's fuzz-instrumented
# test binary once (`go test -c -fuzz`, into bin/fuzz/, where the go command
# skips the link next time if nothing changed), asks it for its targets with
# -test.list '^Fuzz' (what `go test -list '^Fuzz'` does, so a new target is
# picked up without editing anything), and runs each target from it, in the
# package directory, as `go test -run '^$' -fuzz '^FuzzXxx$'` would.
# Packages are candidates when one of their _test.go files declares a
# func Fuzz...; the binary's own list is authoritative.
#
# Environment:
#   GO                 go command (default go)
#   PKGS               packages to search (default ./...)
#   FUZZTIME           fuzzing time per target (default 3s)
#   FUZZMINIMIZETIME   time to minimize each new input (default 1s; the
#                      default of go test, 60s, would eat the whole budget)
#   FUZZJOBS           builds and targets run at once, each target with one
#                      worker (default: the number of CPUs)
#
# A target that fails prints its log; the failing input is then in the
# package's testdata/fuzz/FuzzXxx/ directory. Fix the code and commit that
# file as a regression input; never delete it to make the run pass. A run
# that fails only with the fuzzing engine's own "context deadline exceeded"
# at the end of -fuzztime (a race in the engine on loaded machines), with no
# failing input, is run once more; if that fails too, it is reported. New
# interesting inputs go to the Go build cache ($GOCACHE/fuzz), not the
# repository.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
PKGS=${PKGS:-./...}
FUZZTIME=${FUZZTIME:-3s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-1s}
FUZZJOBS=${FUZZJOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
FUZZCACHE=$("$GO" env GOCACHE)/fuzz

bins=$PWD/bin/fuzz
mkdir -p "$bins"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GO FUZZTIME FUZZMINIMIZETIME FUZZCACHE bins work

# Candidate packages: import path and directory of each package whose test
# files declare a fuzz target.
# shellcheck disable=SC2086 # PKGS may name several patterns
"$GO" list -f '{{.ImportPath}} {{.Dir}}{{range .TestGoFiles}} {{.}}{{end}}{{range .XTestGoFiles}} {{.}}{{end}}' $PKGS |
	while read -r pkg dir files; do
		for f in $files; do
			if grep -q '^func Fuzz' "$dir/$f"; then
				echo "$pkg $dir"
				break
			fi
		done
	done >"$work/packages"
if [ ! -s "$work/packages" ]; then
	echo "fuzz-smoke: no fuzz targets in $PKGS"
	exit 0
fi

start=$(date +%s)

# build_one PACKAGE DIR builds the package's instrumented test binary and
# lists its fuzz targets as "PACKAGE DIR BINARY TARGET" lines.
build_one() {
	local pkg=$1 dir=$2 bin log
	bin="$bins/$(tr '/.' '__' <<<"$pkg").test"
	log="$work/$(basename "$bin").log"
	if ! "$GO" test -c -vet=off -fuzz . -o "$bin" "$pkg" >"$log" 2>&1; then
		echo "FAIL  $pkg: building the fuzz test binary" >&2
		sed 's/^/      /' "$log" >&2
		return 1
	fi
	(cd "$dir" && "$bin" -test.list '^Fuzz') | grep '^Fuzz' | sed "s|^|$pkg $dir $bin |" || true
}
export -f build_one
xargs -P "$FUZZJOBS" -L 1 bash -c 'build_one "$0" "$1"' <"$work/packages" >"$work/targets"
count=$(wc -l <"$work/targets")
echo "fuzz-smoke: $count targets in $(wc -l <"$work/packages") packages (built in $(($(date +%s) - start))s), $FUZZTIME each, $FUZZJOBS at a time"

# fuzz_one PACKAGE DIR BINARY TARGET LOG fuzzes one target once.
fuzz_one() {
	(cd "$2" && "$3" -test.run '^$' -test.fuzz "^${4}\$" -test.fuzztime "$FUZZTIME" \
		-test.fuzzminimizetime "$FUZZMINIMIZETIME" -test.parallel 1 \
		-test.fuzzcachedir "$FUZZCACHE/$1") >"$5" 2>&1
}

# deadline_flake LOG reports whether a failed run only hit the Go fuzzing
# engine's own race at the end of -fuzztime: "context deadline exceeded",
# with no failing input written, no failing corpus entry and no panic.
deadline_flake() {
	grep -q 'context deadline exceeded' "$1" &&
		! grep -q -e 'Failing input written to' -e 'failure while testing seed corpus entry' -e '^panic:' "$1"
}

# run_one PACKAGE DIR BINARY TARGET fuzzes one target and prints one line
# about it; on failure it prints the log and returns non-zero. A run that
# failed only by the engine's deadline race is run once more, and fails if
# that fails too.
run_one() {
	local pkg=$1 dir=$2 bin=$3 target=$4 log t0 status=0
	log="$work/$(basename "$bin").$target.log"
	t0=$(date +%s)
	fuzz_one "$pkg" "$dir" "$bin" "$target" "$log" || status=$?
	if [ "$status" -ne 0 ] && deadline_flake "$log"; then
		echo "again $pkg $target: the fuzzing engine stopped with 'context deadline exceeded' and nothing failing"
		mv "$log" "$log.first"
		status=0
		fuzz_one "$pkg" "$dir" "$bin" "$target" "$log" || status=$?
	fi
	if [ "$status" -eq 0 ]; then
		echo "ok    $pkg $target ($(($(date +%s) - t0))s)"
		return 0
	fi
	echo "FAIL  $pkg $target"
	if [ -f "$log.first" ]; then
		sed 's/^/      /' "$log.first"
		echo "      and run again:"
	fi
	sed 's/^/      /' "$log"
	echo "      a failing input, if any, is in $dir/testdata/fuzz/$target/: fix the code and keep the file"
	return 1
}
export -f fuzz_one deadline_flake run_one

if xargs -P "$FUZZJOBS" -L 1 bash -c 'run_one "$0" "$1" "$2" "$3"' <"$work/targets"; then
	echo "fuzz-smoke: all $count targets passed in $(($(date +%s) - start))s"
else
	echo "fuzz-smoke: FAILED (see above)" >&2
	exit 1
fi
