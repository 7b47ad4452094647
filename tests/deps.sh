#!/usr/bin/env bash
# Installs what building and testing need on Debian 12: the Debian packages
# that are missing (apt-get, as root or through sudo) and the npm packages
# (npm ci into tests/node_modules and proto/js/node_modules). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential        # gcc, make
  liburing-dev           # io_uring
  libwslay-dev           # WebSocket framing
  libmbedtls-dev         # SHA-1/base64 for the handshake, P-521, AES
  libxxhash-dev          # owner shard of a signature
  libjsmn-dev            # JSON tokens
  libjansson-dev         # reflector-bench: its JSON results, merge and report
  node-llhttp            # llhttp's C sources: the HTTP request parser
  clang                  # make fuzz: libFuzzer targets
  libclang-rt-14-dev     # make fuzz: libFuzzer and sanitizer runtimes
  python3                # test clients
  python3-websockets
  python3-matplotlib     # make bench: the relay-vs-peer chart
  python3-prometheus-client # tests: /metrics parsed with the reference parser
  nodejs                 # test clients (Node ws)
  chromium               # tests/browser: headless self-test and the two-tab chat
  nginx                  # tests/deploy: TLS in front of the relay, deploy/nginx/
  haproxy                # tests/deploy: TLS and PROXY protocol v2, deploy/haproxy/
  openssl                # tests/deploy: the test's self-signed certificate
  systemd                # tests/deploy: systemd-analyze verify deploy/systemd/
  strace                 # tests/deploy: the relay's system calls against the unit's filter
  libseccomp-dev         # tests: the launcher that refuses io_uring the way Docker does
  libsodium-dev          # the 2025 dialect: X25519 and XSalsa20-Poly1305
  libnats-dev            # --nats: the cnats client
  nats-server            # tests/cluster: a real NATS cluster
  npm
  ca-certificates
)

missing=()
for p in "${packages[@]%%#*}"; do
  p=${p// /}
  [ -n "$p" ] || continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm may come from elsewhere than Debian (the machine's own
# install): then they are not needed from apt.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do
    [ "$p" = nodejs ] || [ "$p" = npm ] || filtered+=("$p")
  done
  missing=("${filtered[@]}")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# playwright-core drives the Debian chromium above; it must not fetch a browser.
if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules ]; then
  echo "deps: npm ci in tests/"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests --no-audit --no-fund --loglevel=error
  touch tests/node_modules
fi
# The browser client's webcryptobox and qr, which `make www` copies into the web root.
if [ ! -d proto/js/node_modules ] || [ proto/js/package-lock.json -nt proto/js/node_modules ]; then
  echo "deps: npm ci in proto/js/"
  npm ci --prefix proto/js --no-audit --no-fund --loglevel=error
  touch proto/js/node_modules
fi
