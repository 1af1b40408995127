#!/usr/bin/env bash
# npm run demo [-- --compose | --process]: boots mkos and prints the dashboard's URL with
# its token as the last line.
#   With a Docker engine that answers: the compose stack (`docker compose`, or Compose
#   v1's `docker-compose` where only that exists), after making sure the base images are
#   there (pulled, or built locally from this host's binaries when no registry answers);
#   it waits until every long-running container is healthy.
#   Without one: the same system as OS processes (`mkctl up --demo`; needs nats-server).
# `docker compose up -d` (or `docker-compose up -d`) stays the way to boot the stack by hand.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { echo "usage: npm run demo [-- --compose | --process [MKCTL-UP-OPTIONS...]]" >&2; exit 64; }
mode=auto
case "${1:-}" in
  --compose) mode=compose; shift ;;
  --process) mode=process; shift ;;
  -h|--help) echo "usage: npm run demo [-- --compose | --process [MKCTL-UP-OPTIONS...]]"
             echo "  (process mode passes the options on to mkctl up, e.g. --run-dir DIR --system FILE)"; exit 0 ;;
esac
if (($#)) && [[ $mode != process ]]; then echo "demo: unknown option '$1' (options after --process go to mkctl up)" >&2; usage; fi

compose_cmd() {
  if docker compose version >/dev/null 2>&1; then echo "docker compose"
  elif command -v docker-compose >/dev/null 2>&1; then echo "docker-compose"
  fi
}

# docker info, bounded: an unreachable DOCKER_HOST or an engine still starting must not hang the demo.
docker_answers() {
  if command -v timeout >/dev/null 2>&1; then timeout 15 docker info >/dev/null 2>&1; else docker info >/dev/null 2>&1; fi
}

timeout_s=${MKOS_DEMO_TIMEOUT_S:-300}
[[ $timeout_s =~ ^[0-9]+$ ]] || { echo "demo: MKOS_DEMO_TIMEOUT_S must be a whole number of seconds, got '$timeout_s'" >&2; exit 64; }

if [[ $mode == auto ]]; then
  if command -v docker >/dev/null 2>&1 && docker_answers && [[ -n "$(compose_cmd)" ]]; then
    mode=compose
  else
    mode=process
    echo "demo: no Docker engine with Compose answers here; booting mkos as OS processes (npm run demo -- --compose to insist)" >&2
  fi
fi

if [[ $mode == process ]]; then
  [[ -d node_modules ]] || { echo "demo: run npm ci first (process mode runs the checkout's code)" >&2; exit 69; }
  exec bash scripts/with-node24.sh node services/mkctl/src/main.ts up --demo "$@"
fi

docker_answers || { echo "demo: the Docker engine does not answer (docker info failed)" >&2; exit 69; }
read -r -a COMPOSE <<<"$(compose_cmd)"
((${#COMPOSE[@]})) || { echo "demo: neither 'docker compose' nor 'docker-compose' is installed" >&2; exit 69; }

echo "demo: base images (pulled, or built here from this Linux host's binaries when no registry answers)" >&2
images=$(bash scripts/base-images.sh) || { echo "demo: scripts/base-images.sh failed: no base images to build on (run it by hand to see why)" >&2; exit 69; }
eval "$images"
echo "demo: ${COMPOSE[*]} up -d --build (NODE_IMAGE=$NODE_IMAGE NATS_IMAGE=$NATS_IMAGE)" >&2
"${COMPOSE[@]}" up -d --build >&2 || {
  echo "demo: ${COMPOSE[*]} up failed; see ${COMPOSE[*]} ps -a and ${COMPOSE[*]} logs" >&2
  exit 69
}

# Healthy: every container of the stack (not `run` one-offs) reports healthy, or runs
# where it has no healthcheck; the one-shot setup containers have exited 0. Any other
# container that exited stops the wait at once, with its last log lines.
ONE_SHOT=" config disk-owner "
deadline=$((SECONDS + timeout_s))
while :; do
  waiting=()
  while read -r id; do
    [[ -n $id ]] || continue
    state=$(docker inspect --format '{{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.oneoff"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id" 2>/dev/null) || continue
    read -r service oneoff status health code <<<"$state"
    [[ $oneoff == True ]] && continue
    if [[ $status == exited && $code == 0 && $ONE_SHOT == *" $service "* ]]; then continue; fi
    if [[ $status == exited || $status == dead || $health == unhealthy ]]; then
      echo "demo: $service is $status${code:+ (exit $code)}${health:+, $health}; its last lines:" >&2
      "${COMPOSE[@]}" logs --no-color --tail 20 "$service" >&2 || true
      exit 69
    fi
    if [[ $status == running && ($health == healthy || $health == none) ]]; then continue; fi
    waiting+=("$service:$status/$health")
  done < <("${COMPOSE[@]}" ps -a -q)
  ((${#waiting[@]} == 0)) && break
  if ((SECONDS > deadline)); then
    echo "demo: not healthy after $timeout_s s: ${waiting[*]} (see: ${COMPOSE[*]} logs)" >&2
    exit 69
  fi
  sleep 1
done

url=$("${COMPOSE[@]}" logs --no-color dashboard 2>/dev/null | grep -o 'http://[^ "]*?token=[A-Za-z0-9_-]*' | tail -1 || true)
[[ -n $url ]] || { echo "demo: the dashboard did not log its URL (${COMPOSE[*]} logs dashboard)" >&2; exit 69; }
echo "mkos is up (${COMPOSE[*]} ps; ${COMPOSE[*]} down to stop it)."
echo "the dashboard (the token in the URL lets the page change things):"
echo "$url"
