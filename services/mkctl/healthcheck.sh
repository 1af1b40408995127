#!/usr/bin/env bash
# Container healthcheck without starting Node (a Node start costs ~100 ms of CPU; four of
# them every 2 s took a tenth of a core from the stack and tripled its tail latency; this
# costs a few ms, and the stack's thirteen checks run every second):
# an HTTP/1.0 GET over bash's /dev/tcp, healthy when the status is 200.
#   healthcheck.sh HOST PORT PATH      e.g. healthcheck.sh 127.0.0.1 7700 /readyz
# In PATH, {host} becomes this container's host name (what kernel-core lists per endpoint).
set -u
host="$1" port="$2" path="${3//\{host\}/$HOSTNAME}"
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$host" >&3
read -r -t 2 _ status _ <&3 || exit 1
[[ "$status" == 200 ]]
