#!/usr/bin/env bash
# bench-sim.sh runs the `meshdfu sim --json` benchmarks of docs/benchmarks.md
# and prints their markdown tables:
#
#   1. strategy comparison: --profile meshdfu against --profile zephyr on
#      the same seed and network (single-hop, so only the transfer
#      strategies differ), a 100 KiB image, 1 and 100 targets, 0 % and 10 %
#      loss;
#   2. one run of 1000 targets (BIG_TOPOLOGY, grid by default) with its
#      wall time and peak memory (GNU time's maximum resident set size).
#
# Needs go, jq, timeout and /usr/bin/time. Environment: SEED (1),
# BIG_TOPOLOGY (grid), BIG_NODES (1000), BIG_ARGS (more sim flags for it,
# e.g. "--image-size 4KiB"), BIG_TIMEOUT (wall seconds, 120: twice the 60 s target), SKIP_BIG=1
# to leave the 1000-node run out.
set -euo pipefail
cd "$(dirname "$0")/.."

SEED=${SEED:-1}
BIG_TOPOLOGY=${BIG_TOPOLOGY:-grid}
BIG_NODES=${BIG_NODES:-1000}
BIG_ARGS=${BIG_ARGS:-}
BIG_TIMEOUT=${BIG_TIMEOUT:-120}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/meshdfu" ./cmd/meshdfu

# sim NAME ARGS...: runs meshdfu sim --json ARGS into $work/NAME.json, its
# wall time (s) and peak RSS (KiB) into $work/NAME.time, killed after
# $LIMIT wall seconds (600 by default). Exit status 1 (not every target as
# planned) is a result, not an error; so is a run killed by the limit
# (no JSON) when ALLOW_KILL is set.
sim() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$work/$name.time" timeout "${LIMIT:-600}" "$work/meshdfu" sim --json --seed "$SEED" "$@" >"$work/$name.json" 2>"$work/$name.err" || true
	if [ -n "${ALLOW_KILL:-}" ] && ! [ -s "$work/$name.json" ]; then
		return
	fi
	if ! jq -e . "$work/$name.json" >/dev/null 2>&1; then
		echo "meshdfu sim $*: no JSON: $(cat "$work/$name.err")" >&2
		exit 1
	fi
}

# cells NAME: "transfer s | goodput | efficiency" of a complete run, or
# "did not complete" (the reason goes to $work/notes).
cells() {
	if jq -e .ok "$work/$1.json" >/dev/null; then
		jq -r '"\(.transfer.duration_s) s | \(.transfer.goodput_Bps) B/s | \(.transfer.efficiency * 1000 | round / 10) %"' "$work/$1.json"
		return
	fi
	echo "did not complete | — | —"
	jq -r --arg cmd "$2" '
	  [.targets[] | select(.final_phase != .expected)] as $bad
	  | ([$bad[] | "\(.final_phase): \(.reason | sub("target 0x[0-9a-f]+: "; ""))"] | group_by(.) | sort_by(-length)
	     | map("\(length)× \(.[0])") | join("; ")) as $why
	  | "- `\($cmd)`: \($bad | length) of \(.nodes) targets did not end as planned (\($why))."' "$work/$1.json" >>"$work/notes"
}

ratio() {
	jq -rn --slurpfile a "$work/$1.json" --slurpfile b "$work/$2.json" '
	  if ($a[0].ok and $b[0].ok) then "\($a[0].transfer.goodput_Bps / $b[0].transfer.goodput_Bps * 100 | round / 100)×"
	  elif $a[0].ok then "meshdfu only"
	  else "—" end'
}

base=(--topology single-hop --image-size 100KiB)
echo "### meshdfu sim: strategy comparison"
echo
echo 'Commands (seed '"$SEED"'; N = 1 or 100, P = 0 or 0.1, PROFILE = meshdfu or zephyr):'
echo
echo '```'
echo "meshdfu sim --json --seed $SEED ${base[*]} --nodes N --loss P --profile PROFILE"
echo '```'
echo
echo "| targets | loss | meshdfu: transfer | goodput | efficiency | zephyr: transfer | goodput | efficiency | goodput meshdfu/zephyr |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in 1 100; do
	for loss in 0 0.1; do
		sim "m-$n-$loss" "${base[@]}" --nodes "$n" --loss "$loss" --profile meshdfu
		sim "z-$n-$loss" "${base[@]}" --nodes "$n" --loss "$loss" --profile zephyr
		pct=$(jq -rn "$loss * 100 | round")
		echo "| $n | $pct % | $(cells "m-$n-$loss" "--nodes $n --loss $loss --profile meshdfu") | $(cells "z-$n-$loss" "--nodes $n --loss $loss --profile zephyr") | $(ratio "m-$n-$loss" "z-$n-$loss") |"
	done
done
echo
echo "Efficiency is goodput against the 600 B/s bound (one sender, 12 octets per 20 ms advertising gap)."
if [ -s "$work/notes" ]; then
	echo
	echo "Runs that did not complete, with the reasons from the JSON (final phase: reason, per target):"
	echo
	cat "$work/notes"
fi

[ "${SKIP_BIG:-}" = 1 ] && exit 0
echo
echo "### meshdfu sim: $BIG_NODES nodes"
echo
echo '```'
echo "/usr/bin/time -v meshdfu sim --json --seed $SEED --nodes $BIG_NODES --topology $BIG_TOPOLOGY $BIG_ARGS"
echo '```'
echo
# shellcheck disable=SC2086 # BIG_ARGS is a list of flags
LIMIT=$BIG_TIMEOUT ALLOW_KILL=1 sim big --nodes "$BIG_NODES" --topology "$BIG_TOPOLOGY" $BIG_ARGS
wall=$(awk 'END { print $(NF-1) }' "$work/big.time")
rss=$(awk 'END { print $NF }' "$work/big.time")
echo "| topology | relays | max hops | ok | applied | virtual time | transfer | goodput | wall time | peak RSS | CPUs |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
if ! [ -s "$work/big.json" ]; then
	echo "| $BIG_TOPOLOGY | | | did not complete: killed after $BIG_TIMEOUT s of wall time | | | | | > $BIG_TIMEOUT s | $((rss / 1024)) MiB (when killed) | $(nproc) |"
	exit 0
fi
jq -r --arg wall "$wall" --arg rss "$rss" --arg cpus "$(nproc)" '
  "| \(.network.topology), \(.network.loss * 100 | round) % loss, \(.image_bytes / 1024) KiB | \(.network.relays) | \(.network.max_hops) | \(.ok) | \([.targets[] | select(.final_phase == "Apply Success")] | length)/\(.nodes) | \(.virtual_duration_s) s | \(.transfer.duration_s) s | \(.transfer.goodput_Bps) B/s | \($wall) s | \($rss | tonumber / 1024 | round) MiB | \($cpus) |"' "$work/big.json"
if ! jq -e .ok "$work/big.json" >/dev/null; then
	echo
	jq -r '[.targets[] | select(.final_phase != .expected) | "\(.final_phase): \(.reason | sub("target 0x[0-9a-f]+: "; ""))"]
	  | group_by(.) | sort_by(-length) | map("- \(length)× \(.[0])") | .[]' "$work/big.json" | head -5
fi
