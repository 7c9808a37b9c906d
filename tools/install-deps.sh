#!/usr/bin/env bash
# Installs every Debian package stockd needs to build, test and benchmark, and the npm client
# libraries its JavaScript integration tests use. Idempotent: does nothing when all is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libboost-dev libboost-system-dev   # Boost.Asio (header-only) and its system library
  libjemalloc-dev                    # the allocator
  libxxhash-dev                      # key hashing (xxh3) and record checksums
  librocksdb-dev                     # the write-ahead log
  libabsl-dev                        # flat_hash_map, btree_set
  libfmt-dev                         # formatting for logs and INFO
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev           # the libFuzzer target
  redis-server redis-tools           # redis-cli, redis-benchmark, and the reference server in bench/
  python3 python3-redis              # redis-py integration tests
  libhiredis-dev                     # hiredis integration test
  nodejs npm                         # ioredis / node-redis integration tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# npm may come from outside Debian's package (it does on some images): accept any working npm.
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm/}")
fi
want=()
for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done

if [ ${#want[@]} -gt 0 ]; then
  echo "install-deps: installing ${want[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${want[@]}"
fi

# Redis's Debian package starts a server on 6379 at install time; stockd's default port is the
# same, so stop it (tests and benchmarks start their own servers on free ports).
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  systemctl stop redis-server || true
fi
if [ -f /var/run/redis/redis-server.pid ]; then
  kill "$(cat /var/run/redis/redis-server.pid)" 2>/dev/null || true
fi

here=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$here/tests/integration/js/package.json" ] && [ ! -d "$here/tests/integration/js/node_modules" ]; then
  echo "install-deps: npm ci in tests/integration/js"
  (cd "$here/tests/integration/js" && npm ci --no-audit --no-fund --loglevel=error)
fi
