#!/usr/bin/env bash
# Runs each libFuzzer target for $FUZZ_SECONDS (default 60) on a copy of its
# seed corpus in a temporary directory (the repository is never written).
# Prints each target's executions; exits non-zero on any crash, leak,
# sanitizer report or timeout, leaving the input in build/fuzz/artifacts/.
# Usage: tests/fuzz/run.sh [http ws message proof proxy forwarded]
set -uo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http ws message proof proxy forwarded)
artifacts=build/fuzz/artifacts
mkdir -p "$artifacts"
# Largest input per target: a request head a little over the 8 KiB limit;
# frames around the 4 KiB buffer wslay reads into; one message over the
# default 4096-byte limit; register3 fields at their limits; a PROXY
# header a little over its 1024-byte limit, with 3 bytes of settings; a
# forwarding header as long as the relay's request head allows.
declare -A max_len=([http]=9000 [ws]=8192 [message]=5000 [proof]=4000 [proxy]=1100 [forwarded]=4097)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=64:malloc_context_size=20}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  bin=build/fuzz/fuzz_$t
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin missing (make fuzz-build)"
    failed+=("$t")
    continue
  fi
  work=$(mktemp -d)
  cp tests/fuzz/corpus/"$t"/* "$work"/
  dict=()
  [ -f tests/fuzz/$t.dict ] && dict=(-dict=tests/fuzz/$t.dict)
  log=$(mktemp)
  # Bounded: libFuzzer stops itself after max_total_time; timeout(1) is
  # the backstop if it hangs.
  timeout -k 10 $((SECONDS_EACH + 120)) "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 \
    -rss_limit_mb=2560 -max_len="${max_len[$t]:-4096}" -print_final_stats=1 \
    -artifact_prefix="$artifacts/$t-" "${dict[@]}" "$work" >"$log" 2>&1
  rc=$?
  execs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
  corpus=$(ls "$work" | wc -l)
  printf 'fuzz %-8s %4ss  %10s executions  %s  corpus %s\n' "$t" "$SECONDS_EACH" "${execs:-?}" "${cov:-}" "$corpus"
  if [ "$rc" -ne 0 ]; then
    echo "---- fuzz $t failed (exit $rc) ----"
    grep -E 'ERROR|invariant failed|runtime error|SUMMARY|Test unit written|^    #[0-9]+ ' "$log" | head -40
    failed+=("$t")
  fi
  rm -rf "$work" "$log"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $artifacts/; rerun one with build/fuzz/fuzz_<target> <file>)"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash"
