#!/usr/bin/python3
"""test_nss_fdclose - libnss_zk.so.2 does not leak snapshot mappings in a
program that closes every descriptor between lookups.

Such a program closes the module's hosts.mdb descriptor behind its back;
the module must then still release the old snapshot's mapping when it
switches to a newer one, or every republish leaves one more mapping of a
deleted hosts.mdb (and its blocks on disk). The helper (nss_fdclose)
closes every descriptor from 3 up, lets the real publisher publish a new
snapshot, resolves a name that changes with every publish, 20 times, and
checks after every round: the new answer, at most two hosts.mdb mappings
in /proc/self/maps, no descriptor of a deleted file in /proc/self/fd.
The cache lives under a root-owned 0755 parent so the trust rules pass.
Exit 0 pass, 1 fail.
"""
import os
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("ZKH_BUILD", os.path.abspath("build"))
LIB = os.path.join(BUILD, "libnss_zk.so.2")
HELPER = os.path.join(BUILD, "tests/tools/nss_fdclose")
ROUNDS = 20


def main():
    root = tempfile.mkdtemp(prefix="zkh-nss-fdclose-")
    try:
        os.chmod(root, 0o755)
        cache = os.path.join(root, "cache")
        conf = os.path.join(root, "zkhosts.conf")
        with open(conf, "w") as f:
            f.write("cache = %s\n" % cache)
        env = dict(os.environ, ZKHOSTS_CONF=conf)
        env.pop("ZKHOSTS_NSS_BYPASS", None)
        p = subprocess.run([HELPER, LIB, cache, str(ROUNDS)], env=env,
                           capture_output=True, text=True, timeout=300)
        sys.stdout.write(p.stdout)
        sys.stdout.write(p.stderr)
        if p.returncode != 0:
            print("FAIL: nss_fdclose exited %d" % p.returncode)
            return 1
        words = p.stdout.split()
        if words[:2] != ["rounds", str(ROUNDS)]:
            print("FAIL: unexpected helper output %r" % p.stdout)
            return 1
        print("ok")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
