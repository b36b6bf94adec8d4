#!/usr/bin/env bash
# The README's first command must keep working: run the demo (what `make
# demo` runs after building) and check the outcomes it prints, not only its
# exit status: live registration, reverse lookup, a change, a death, and
# lookups surviving a ZooKeeper outage.
set -euo pipefail
out=$(ZKH_BUILD=${ZKH_BUILD:-build} /usr/bin/python3 "${ZKH_SRC:-.}/scripts/demo.py" 2>&1) || { echo "$out"; exit 1; }
echo "$out"
expect() { grep -qE -- "$1" <<<"$out" || { echo "demo output lacks: $1"; exit 1; }; }
expect '10\.99\.0\.1 +demo-host\.cluster\.example demo-host'
expect '10\.99\.0\.11 +datanode-1\.cluster\.example datanode-1'
expect "python getaddrinfo\('namenode'\) -> 10\.99\.0\.10, fd00:99::10"
expect "gethostbyaddr: 10\.99\.0\.10 -> namenode\.cluster\.example, fd00:99::10 -> namenode\.cluster\.example"
expect 'set historyserver 10\.99\.0\.21 -> 10\.99\.0\.21'
expect 'datanode-1 -> \(not found'
expect 'zkcached still running: True'
expect 'ZooKeeper back; set historyserver 10\.99\.0\.22'
