#!/usr/bin/env bash
# Runs every Fuzz target in the module for FUZZTIME each (default 20s, what
# CI runs). Longer on demand, for every target or one part:
#   FUZZTIME=5m scripts/fuzz.sh
#   FUZZTIME=30m scripts/fuzz.sh ./models/blob
# A crasher is written to the package's testdata/fuzz/FuzzXxx/; commit it
# with the fix and plain go test replays it as a regression test.
# Usage: FUZZTIME=60s scripts/fuzz.sh [package-pattern]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20s}
pattern=${1:-./...}
status=0
for pkg in $(go list "$pattern"); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
	for t in $targets; do
		echo "fuzz: $pkg $t ($fuzztime)"
		if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/fuzz-$$.log 2>&1; then
			cat /tmp/fuzz-$$.log
			status=1
		fi
	done
done
rm -f /tmp/fuzz-$$.log
exit $status
