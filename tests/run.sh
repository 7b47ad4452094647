#!/usr/bin/env bash
# Runs the whole suite: unit tests, then every integration suite against the
# plain build, again against the ASan+UBSan build, and the threaded parts
# against the TSan build. Prints one closing "tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
PY=/usr/bin/python3
passed=0
failed=0
failures=()

# Each step's own summary gives its counts; a step that crashes before
# printing one counts as one failure.
count() {
  local name=$1 log=$2 rc=$3 p f
  p=$(grep -Eo '^(unit: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+')
  f=$(grep -Eo '^(unit: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+')
  if [ -z "$p" ]; then
    # unittest: "Ran N tests" and "OK" / "FAILED (failures=a, errors=b)"
    local ran
    ran=$(grep -Eo '^Ran [0-9]+ test' "$log" | grep -Eo '[0-9]+' | tail -1)
    if [ -n "$ran" ]; then
      f=$(grep -Eo '(failures|errors)=[0-9]+' "$log" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
      f=${f:-0}
      p=$((ran - f))
    fi
  fi
  if [ -z "$p" ]; then
    # node --test: "# pass N" / "# fail M"
    p=$(grep -Eo '^# pass [0-9]+' "$log" | grep -Eo '[0-9]+' | tail -1)
    f=$(grep -Eo '^# fail [0-9]+' "$log" | grep -Eo '[0-9]+' | tail -1)
  fi
  p=${p:-0}
  f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
  [ "$f" -eq 0 ] || failures+=("$name")
  printf '%-40s %4d passed, %d failed\n' "$name" "$p" "$f"
}

# A step that hangs (a timer left running keeps node --test alive, a relay
# that never answers) fails after STEP_TIMEOUT seconds instead of holding
# the whole run.
STEP_TIMEOUT=${STEP_TIMEOUT:-900}
step() {
  local name=$1
  shift
  local log
  log=$(mktemp)
  timeout --kill-after=10 "$STEP_TIMEOUT" "$@" >"$log" 2>&1
  local rc=$?
  [ "$rc" -ne 124 ] || echo "$name: no end after ${STEP_TIMEOUT} s" >>"$log"
  if [ "$rc" -ne 0 ] || [ -n "${VERBOSE:-}" ]; then
    echo "---- $name (exit $rc) ----"
    tail -n 80 "$log"
  fi
  count "$name" "$log" "$rc"
  rm -f "$log"
}

suites() {
  local flavour=$1 bin=$2
  step "$flavour: conformance" env REFLECTOR="$bin" $PY -m unittest discover -s tests/conformance -t .
  step "$flavour: integration" env REFLECTOR="$bin" $PY -m unittest discover -s tests/integration -t .
  step "$flavour: node clients" env REFLECTOR="$bin" node --test tests/node/
}

# The README's entry points work as the first command on a fresh clone.
step "build: fresh clone" $PY -m unittest discover -s tests/build -t .
step "unit" ./build/unit-tests "$SHARED"
step "unit (asan+ubsan)" ./build/asan/unit-tests "$SHARED"
# The runtime over a fake IO backend, with an echo handler for the protocol.
step "runtime" ./build/runtime-tests
step "runtime (asan+ubsan)" ./build/asan/runtime-tests
# The protocol layer over a fake runtime, its crypto pool's threads real.
step "session" ./build/session-tests "$SHARED"
step "session (asan+ubsan)" ./build/asan/session-tests "$SHARED"
TSAN_OPTIONS="halt_on_error=1" step "session (tsan)" ./build/tsan/session-tests "$SHARED"
suites plain build/reflector
# RFC 6455 again over TLS: the relay with --tls-cert, the raw clients through TLS.
step "tls: conformance" env TEST_OVER_TLS=1 REFLECTOR=build/reflector $PY -m unittest discover -s tests/conformance -t .
# The same suites on the epoll backend, the one the relay falls back to where
# io_uring is refused (tests/integration/test_io_backend.py proves the
# fallback under a seccomp filter): the plain build, every relay a test
# starts given --io epoll (tests/lib/relayproc.py, tests/node/relay.mjs).
RELAY_ARGS="--io epoll" suites epoll build/reflector
RELAY_ARGS="--io epoll" step "epoll: hostile" env REFLECTOR=build/reflector $PY -m unittest discover -s tests/hostile -t .
# The browser client (proto/js): its state machine over the mock transport,
# then the demo page in headless Chromium against the plain build.
step "client: mock transport" node --test proto/js/test/
step "plain: browser" env REFLECTOR=build/reflector node --test tests/browser/
# deploy/: nginx and HAProxy from its files in front of the plain build,
# over TLS; the systemd unit and the sysctl file checked.
step "plain: deploy" env REFLECTOR=build/reflector node --test tests/deploy/
# Several nodes (tests/cluster/): a real 3-server NATS cluster and 3 relays
# joined through it (--nats); one file at a time, each starts its own.
step "plain: cluster" env REFLECTOR=build/reflector node --test --test-concurrency=1 tests/cluster/
# Hostile clients (tests/hostile/): the plain build only, about a minute and a half.
step "plain: hostile" env REFLECTOR=build/reflector $PY -m unittest discover -s tests/hostile -t .
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  suites asan build/asan/reflector
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  step "asan: cluster" env REFLECTOR=build/asan/reflector node --test --test-concurrency=1 tests/cluster/
# The threaded parts: shards, the crypto pool and the queues between them.
TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1" \
  step "tsan: node clients" env REFLECTOR=build/tsan/reflector node --test tests/node/
# TLS: the handshake threads and the shards hand each connection back and forth.
TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1" \
  step "tsan: tls" env REFLECTOR=build/tsan/reflector $PY -m unittest tests.integration.test_tls
# cnats' threads hand messages to the shards: the cluster tests under TSan.
TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1" \
  step "tsan: cluster" env REFLECTOR=build/tsan/reflector node --test --test-concurrency=1 tests/cluster/
# The benchmark baseline (bench/peer) passes the same protocol tests. Its
# one event loop shares the cores with its crypto threads, so the load
# test's round trips during a 500-registration storm reach about a second
# there (the relay: tens of ms); the limit is raised for it alone.
step "peer: node e2e" env REFLECTOR=bench/peer/reflector-peer E2E_LOAD_MAX_RTT_MS=5000 node --test tests/node/e2e/
# The benchmark harness works end to end (no speed asserted).
step "bench-quick" make --no-print-directory bench-quick
# reflector-bench as a load tester (tests/bench/): wss:// through nginx, host
# names, IPv6, stages, shards and merge, --fail-if, the progress line, the
# HTML report in Chromium. One file at a time: they time the load they make.
step "plain: bench tool" env REFLECTOR=build/reflector node --test --test-concurrency=1 tests/bench/

echo
[ ${#failures[@]} -eq 0 ] || echo "failing: ${failures[*]}"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
