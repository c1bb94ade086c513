#!/usr/bin/env bash
# run.sh FUZZER SEEDS_DIR SECONDS: a short libFuzzer run on a scratch copy of
# the seeds, so the source tree is never written to.
set -eu
fuzzer=$(realpath "$1") seeds=$(realpath -m "$2") seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -d "$seeds" ] && cp -r "$seeds/." "$work/corpus/" 2>/dev/null || true
cd "$work"
# Not exec: the trap must remove the scratch corpus afterwards.
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
	-print_final_stats=1 "$work/corpus"
