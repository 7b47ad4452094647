#!/bin/sh
# Single-thread registration-proof rate (bench/probes/proof_rate.c) on the shared
# interop vectors: the server key (server.privateKeyPem) and case "valid-0"
# (its register3 response and t1). Builds build/proof-rate if missing or
# older than its sources, then runs it RUNS times (default 3); each run is
# three loops of SECONDS (default 5): verifications, bare ECDH, the two
# interleaved. Prints each run and the medians.
#
# usage: bench/probes/proof_rate.sh [SECONDS=5] [RUNS=3]     (from anywhere)
#   env: SHARED (default ../shared next to the repo), CC (default cc)
set -eu
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-5}
RUNS=${2:-3}
SHARED=${SHARED:-../shared}
CC=${CC:-cc}
BIN=build/proof-rate

if [ ! -x "$BIN" ] || [ -n "$(find bench/probes/proof_rate.c proto relay/key_file.c -newer "$BIN" -name '*.[ch]' 2>/dev/null)" ]; then
  mkdir -p build
  "$CC" -O2 -g -std=gnu11 -D_GNU_SOURCE -Iproto -Irelay bench/probes/proof_rate.c proto/*.c relay/key_file.c \
    -o "$BIN" -lmbedtls -lmbedx509 -lmbedcrypto
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
T1=$(/usr/bin/python3 - "$SHARED/vectors/registration.json" "$TMP" <<'PY'
import json, os, sys
v = json.load(open(sys.argv[1]))
out = sys.argv[2]
with open(os.path.join(out, "server.pem"), "w") as f:
    f.write(v["server"]["privateKeyPem"] + "\n")
os.chmod(os.path.join(out, "server.pem"), 0o600)
case = next(c for c in v["cases"] if c["name"] == "valid-0")
# The wire form a browser sends: JSON.stringify of the object, no spaces.
with open(os.path.join(out, "register3.json"), "w") as f:
    f.write(json.dumps(case["response"], separators=(",", ":"), ensure_ascii=False))
print(case["t1"])
PY
)

i=0
: > "$TMP/runs"
while [ "$i" -lt "$RUNS" ]; do
  i=$((i + 1))
  "$BIN" "$TMP/server.pem" "$TMP/register3.json" "$T1" "$SECONDS_PER_RUN" > "$TMP/out"
  echo "run $i:"; sed 's/^/  /' "$TMP/out"
  cat "$TMP/out" >> "$TMP/runs"
done
/usr/bin/python3 - "$TMP/runs" <<'PY'
import re, statistics, sys
text = open(sys.argv[1]).read()
def col(kind):
    rows = re.findall(rf"^{kind}: .*? = ([0-9.]+)/s .*per CPU second ([0-9.]+)/s", text, re.M)
    return [float(w) for w, _ in rows], [float(c) for _, c in rows]
pw, pc = col("proof"); ew, ec = col("ecdh")
fmt = lambda xs: " ".join(f"{x:.1f}" for x in xs) + "  median %.1f" % statistics.median(xs)
print("proof/s (wall)      runs:", fmt(pw))
print("proof/s (CPU time)  runs:", fmt(pc))
print("ecdh/s  (wall)      runs:", fmt(ew))
print("ecdh/s  (CPU time)  runs:", fmt(ec))
share = [float(x) for x in re.findall(r"ECDH is ([0-9.]+)% of a verification", text)]
rest = [float(x) for x in re.findall(r"the rest ([0-9.-]+) us", text)]
print("interleaved: ECDH share of a verification runs:", " ".join(f"{x:.1f}%" for x in share),
      " median %.1f%%; non-ECDH rest median %.1f us" % (statistics.median(share), statistics.median(rest)))
PY
