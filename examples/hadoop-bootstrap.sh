#!/bin/sh
# hadoop-bootstrap.sh - the bootstrap job of a Hadoop-on-Docker cluster,
# one zkbarrier line per step. ZooKeeper runs first; every service's
# start script begins with `zkbarrier wait SERVICE boot` (see
# standin-service.sh) and ends its start-up with `zkbarrier set SERVICE up`.
# This job then:
#   1. waits until every cluster host resolves here (through this host's
#      NSS chain, i.e. registered in ZooKeeper, synced and published by
#      zkcached), so no JVM meets a negative answer it would cache;
#   2. releases namenode and datanode;
#   3. waits until the namenode reports itself up;
#   4. creates the HDFS directories;
#   5. releases resourcemanager, nodemanager and historyserver; exits.
#
# Environment (all optional):
#   ZKBARRIER        zkbarrier binary (default: zkbarrier on PATH)
#   ZKHOSTS_CONF     config file (default /etc/zkhosts.conf)
#   CLUSTER_HOSTS    names to wait for (default: the five service hosts)
#   BOOT_TIMEOUT     seconds for each wait (default 300)
#   HDFS_MKDIRS      command that creates the HDFS directories (default:
#                    a stand-in that only logs; in a real cluster e.g.
#                    "hdfs dfs -mkdir -p /tmp /user /mr-history /app-logs")
#   BOOTSTRAP_LOG    file to append progress lines to (default: stderr)
#
# Exit status: 0 done, otherwise the failing zkbarrier's (1 timeout,
# 2 usage/config, 3 ZooKeeper unreachable), or the HDFS command's.
set -eu

ZKBARRIER=${ZKBARRIER:-zkbarrier}
CLUSTER_HOSTS=${CLUSTER_HOSTS:-"namenode datanode resourcemanager nodemanager historyserver"}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}
HDFS_MKDIRS=${HDFS_MKDIRS:-"echo hdfs dfs -mkdir -p /tmp /user /mr-history /app-logs"}

log() {
	line="$(date +%s.%N) bootstrap $*"
	if [ -n "${BOOTSTRAP_LOG:-}" ]; then
		printf '%s\n' "$line" >> "$BOOTSTRAP_LOG"
	else
		printf '%s\n' "$line" >&2
	fi
}

log "waiting for hosts: $CLUSTER_HOSTS"
# shellcheck disable=SC2086 # one argument per host name
"$ZKBARRIER" hosts $CLUSTER_HOSTS --timeout "$BOOT_TIMEOUT"
log "hosts-resolved"

"$ZKBARRIER" set namenode boot
"$ZKBARRIER" set datanode boot
log "released namenode datanode"

"$ZKBARRIER" wait namenode up --timeout "$BOOT_TIMEOUT"
log "namenode-up"

$HDFS_MKDIRS >/dev/null
log "hdfs-dirs-created"

for svc in resourcemanager nodemanager historyserver; do
	"$ZKBARRIER" set "$svc" boot
done
log "released resourcemanager nodemanager historyserver"
log "done"
