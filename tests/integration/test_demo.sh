#!/usr/bin/env bash
# The README's first command must keep working: run the demo (what `make
# demo` runs after building) and check the outcomes it prints, not only its
# exit status: live registration, reverse lookup, an unmodified-socket-module
# Python program resolving through the module (no mount namespace, no
# privilege), a change, a death, and lookups surviving a ZooKeeper outage.
# Then run it again with the Python step broken on purpose (a sitecustomize
# that makes that child's getaddrinfo fail) and check the demo still shows
# the later steps but exits non-zero naming the step.
set -euo pipefail
src=${ZKH_SRC:-.}
build=${ZKH_BUILD:-build}
for f in zkcached libnss_zk.so.2; do
	[[ -e $build/$f ]] || { echo "$build/$f not built"; exit 77; }
done
[[ -e /usr/share/java/zookeeper.jar ]] && command -v java >/dev/null ||
	{ echo "ZooKeeper server or java not installed"; exit 77; }
out=$(ZKH_BUILD=$build /usr/bin/python3 "$src/scripts/demo.py" 2>&1) || { echo "$out"; echo "demo exited non-zero"; exit 1; }
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
if grep -q FAILED <<<"$out"; then echo "a step reported FAILED"; exit 1; fi

# A broken step makes the demo fail, after showing every step.
sc=$(mktemp -d)
trap 'rm -rf "$sc"' EXIT
cat >"$sc/sitecustomize.py" <<'PY'
import sys
if sys.argv[:1] == ["-c"] and "namenode" in sys.argv:
    import socket
    def broken(*args, **kwargs):
        raise OSError("getaddrinfo broken on purpose by test_demo.sh")
    socket.getaddrinfo = broken
PY
rc=0
out=$(PYTHONPATH=$sc${PYTHONPATH:+:$PYTHONPATH} ZKH_BUILD=$build /usr/bin/python3 "$src/scripts/demo.py" 2>&1) || rc=$?
echo "---- with the Python step broken (exit $rc):"
echo "$out" | tail -n 12
[[ $rc != 0 ]] || { echo "demo exited 0 although its Python step failed"; exit 1; }
expect 'FAILED: Python should resolve namenode to 10\.99\.0\.10'
expect "step\(s\) went wrong"
expect 'the whole table'
echo ok
