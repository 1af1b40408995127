#!/usr/bin/env bash
# Makes sure the base images exist: pulls NODE_IMAGE and NATS_IMAGE when a registry
# answers, and otherwise (air-gapped CI) builds local stand-ins from this host's own
# binaries with `tar | docker import`:
#   mkos-standin/node:24-r3  the Node >= 22.22 binary, its shared libraries, npm, busybox,
#                            bash (the containers' healthchecks use its /dev/tcp), and
#                            librt (Vite's bundler, rolldown, loads it to build the page)
#   mkos-standin/nats:2    this host's nats-server, its libc, busybox (wget for healthchecks)
# Prints the two variables to use, as `export NODE_IMAGE=... NATS_IMAGE=...` lines.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_IMAGE="${NODE_IMAGE:-node:24-bookworm-slim}"
NATS_IMAGE="${NATS_IMAGE:-nats:2.10-alpine}"
# The revision changes whenever what a stand-in holds changes, so a machine that kept an
# older one builds the new one instead of reusing it.
NODE_STANDIN="mkos-standin/node:24-r3"
NATS_STANDIN="mkos-standin/nats:2"

have() { docker image inspect "$1" >/dev/null 2>&1; }
pull() { timeout 30 docker pull -q "$1" >/dev/null 2>&1; }

busybox_bin() {
  for b in /bin/busybox /usr/bin/busybox; do [[ -x "$b" ]] && { echo "$b"; return; }; done
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq busybox-static >/dev/null
  echo /bin/busybox
}

# Copies a binary and the shared libraries it loads into a staging root.
stage_binary() {
  local stage="$1" bin="$2" dest="$3"
  mkdir -p "$stage$(dirname "$dest")"
  cp -L "$bin" "$stage$dest"
  ldd "$bin" | awk '/=> \// {print $3} /^[ \t]*\/lib/ {print $1}' | while read -r lib; do
    cp -L --parents "$lib" "$stage"
  done
}

stage_common() {
  local stage="$1" bb
  bb="$(busybox_bin)"
  mkdir -p "$stage"/{bin,usr/bin,etc,tmp,root,home/node}
  chmod 1777 "$stage/tmp"
  cp "$bb" "$stage/bin/busybox"
  for a in sh ash cat ls mkdir chown chmod cp mv rm id env wget sleep kill ps grep head tail true false echo test printf; do
    ln -sf busybox "$stage/bin/$a"
  done
  ln -sf /bin/busybox "$stage/usr/bin/env"
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' > "$stage/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' > "$stage/etc/group"
  chown 1000:1000 "$stage/home/node"
  echo "hosts: files dns" > "$stage/etc/nsswitch.conf"
  # The stand-in trusts what this host trusts (some networks reach the registry through
  # a TLS-inspecting proxy whose CA only the host's bundle holds).
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    mkdir -p "$stage/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/ca-certificates.crt"
  fi
}

build_node_standin() {
  local stage node npmdir
  stage="$(mktemp -d)"
  node="$(bash "$ROOT/scripts/with-node24.sh" sh -c 'command -v node')"
  npmdir="$(npm root -g 2>/dev/null)/npm"
  stage_common "$stage"
  stage_binary "$stage" "$node" /usr/local/bin/node
  stage_binary "$stage" "$(command -v bash)" /bin/bash
  # What the node slim image has and the Node binary does not load itself: rolldown's
  # native module (the dashboard's build stage) links librt.
  for lib in /lib/x86_64-linux-gnu/librt.so.1; do [[ -e "$lib" ]] && cp -L --parents "$lib" "$stage"; done
  mkdir -p "$stage/usr/local/lib/node_modules"
  cp -a "$npmdir" "$stage/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"
  mkdir -p "$stage/usr/local/etc"
  [[ -f "$stage/etc/ssl/certs/ca-certificates.crt" ]] && echo "cafile=/etc/ssl/certs/ca-certificates.crt" > "$stage/usr/local/etc/npmrc"
  tar -C "$stage" -c . | docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' -c 'ENV HOME=/root' -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    -c 'CMD ["node"]' - "$NODE_STANDIN" >/dev/null
  rm -rf "$stage"
}

build_nats_standin() {
  local stage nats
  stage="$(mktemp -d)"
  nats="$(command -v nats-server || echo /usr/sbin/nats-server)"
  stage_common "$stage"
  stage_binary "$stage" "$nats" /usr/local/bin/nats-server
  tar -C "$stage" -c . | docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' -c 'EXPOSE 4222 8222' -c 'CMD ["nats-server"]' - "$NATS_STANDIN" >/dev/null
  rm -rf "$stage"
}

if ! have "$NODE_IMAGE" && ! pull "$NODE_IMAGE"; then
  echo "base-images: cannot pull $NODE_IMAGE; using a local stand-in $NODE_STANDIN" >&2
  have "$NODE_STANDIN" || build_node_standin
  NODE_IMAGE="$NODE_STANDIN"
fi
if ! have "$NATS_IMAGE" && ! pull "$NATS_IMAGE"; then
  echo "base-images: cannot pull $NATS_IMAGE; using a local stand-in $NATS_STANDIN" >&2
  have "$NATS_STANDIN" || build_nats_standin
  NATS_IMAGE="$NATS_STANDIN"
fi
echo "export NODE_IMAGE=$NODE_IMAGE NATS_IMAGE=$NATS_IMAGE"
