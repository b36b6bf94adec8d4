#!/bin/sh
# standin-service.sh SERVICE - a stand-in for a Hadoop daemon's start
# script, for trying hadoop-bootstrap.sh without Hadoop: it waits until
# the bootstrap job releases SERVICE (`zkbarrier wait SERVICE boot`), logs
# a release line with a timestamp, "starts" (sleeps STARTUP_SECONDS),
# marks itself up (`zkbarrier set SERVICE up`) and exits.
#
# Environment: ZKBARRIER, ZKHOSTS_CONF, BOOT_TIMEOUT (seconds, default
# 300), STARTUP_SECONDS (default 0.2), BOOTSTRAP_LOG (default: stderr).
# Exit status: 0, or the failing zkbarrier's.
set -eu

svc=${1:?usage: standin-service.sh SERVICE}
ZKBARRIER=${ZKBARRIER:-zkbarrier}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}

log() {
	line="$(date +%s.%N) $svc $*"
	if [ -n "${BOOTSTRAP_LOG:-}" ]; then
		printf '%s\n' "$line" >> "$BOOTSTRAP_LOG"
	else
		printf '%s\n' "$line" >&2
	fi
}

log "waiting"
"$ZKBARRIER" wait "$svc" boot --timeout "$BOOT_TIMEOUT"
log "released"
sleep "${STARTUP_SECONDS:-0.2}"
"$ZKBARRIER" set "$svc" up
log "up"
