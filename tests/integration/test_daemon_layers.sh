#!/usr/bin/env bash
# test_daemon_layers.sh - the daemon's architecture, checked on the built
# objects: no call or include cycle between the files of cache-daemon/,
# and zkio the only one that calls the ZooKeeper C API
# (scripts/daemon-callgraph prints the graph).
set -u
cd "$(dirname "$0")/../.."
build=${ZKH_BUILD:-build}
command -v nm >/dev/null || { echo "nm (binutils) not installed"; exit 77; }
ls "$build"/obj/cache-daemon/*.o >/dev/null 2>&1 || { echo "zkcached not built"; exit 77; }
exec /usr/bin/python3 scripts/daemon-callgraph "$build"
