#!/usr/bin/python3
"""test_nss_valgrind - the NSS module's direct-call and stress runs under
valgrind memcheck: no invalid reads/writes, no uninitialised use, no
definite or possible leaks, across every entry point (with the buffer
sweep, so every too-small buffer path runs too), a missing cache, a cache
with undecodable values, and threads resolving while the cache is
republished (snapshot swaps and reaping under memcheck).
Skips (77) without valgrind or in a sanitizer build (the two do not mix).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

BUILD = os.environ.get("ZKH_BUILD", os.path.abspath("build"))
LIB = os.path.join(BUILD, "libnss_zk.so.2")
CALL = os.path.join(BUILD, "tests/tools/nss_call")
STRESS = os.path.join(BUILD, "tests/tools/nss_stress")
CHURN = os.path.join(BUILD, "tests/tools/nss_churn")
BAD = os.path.join(BUILD, "tests/tools/nss_badcache")
VG = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
      "--errors-for-leak-kinds=definite,possible", "--track-origins=yes"]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def vg(conf, argv, want_rc=0):
    env = dict(os.environ, ZKHOSTS_CONF=conf)
    env.pop("ZKHOSTS_NSS_BYPASS", None)
    p = subprocess.run(VG + argv, env=env, capture_output=True, text=True,
                       timeout=300)
    check(p.returncode == want_rc, "valgrind %s: exit %d\n%s" %
          (" ".join(os.path.basename(a) for a in argv[:4]), p.returncode,
           p.stderr[-3000:]))
    return p.stdout


def main():
    if shutil.which("valgrind") is None:
        print("valgrind not installed: skip")
        return 77
    if os.environ.get("ZKH_PRELOAD") or "/san-" in BUILD:
        print("sanitizer build: valgrind does not apply: skip")
        return 77
    tmp = tempfile.mkdtemp(prefix="zkh-nss-vg-")
    os.chmod(tmp, 0o755)
    cache = os.path.join(tmp, "cache")
    conf = os.path.join(tmp, "zkhosts.conf")
    with open(conf, "w") as f:
        f.write("cache = %s\n" % cache)
    subprocess.run([CHURN, cache, "host", "20", "churn", "1"], check=True,
                   timeout=60, stdout=subprocess.DEVNULL)

    out = vg(conf, [CALL, "--pat", "--misalign", LIB, "name4", "host3"])
    check("tuple host3 10.1.0.3 (caller)" in out, "name4: %r" % out)
    out = vg(conf, [CALL, "--repeat", "3", LIB, "name3", "host4", "4"])
    check("canon host4" in out, "name3: %r" % out)
    out = vg(conf, [CALL, LIB, "addr2", "10.1.0.5"])
    check("name host5" in out, "addr2: %r" % out)
    out = vg(conf, [CALL, "--buflen", "64", LIB, "enum"])
    check(out.count("status SUCCESS") == 21, "enum: %r" % out)
    out = vg(conf, [CALL, LIB, "name", "nope"])
    check("status NOTFOUND" in out, "not found: %r" % out)

    noconf = os.path.join(tmp, "none.conf")
    with open(noconf, "w") as f:
        f.write("cache = %s/missing\n" % tmp)
    out = vg(noconf, [CALL, LIB, "name4", "host1"])
    check("status UNAVAIL" in out, "no cache: %r" % out)

    bad = os.path.join(tmp, "bad")
    subprocess.run([BAD, bad, "values"], check=True, timeout=60)
    badconf = os.path.join(tmp, "bad.conf")
    with open(badconf, "w") as f:
        f.write("cache = %s\n" % bad)
    for args in (["name4", "junk"], ["addr", "10.0.0.2"], ["enum"]):
        vg(badconf, [CALL, LIB] + args)

    pub = subprocess.Popen([CHURN, cache, "host", "20", "churn", "0"],
                           stdout=subprocess.DEVNULL)
    try:
        # No --fork here: a child inherits blocks owned by threads that do
        # not exist in it, which memcheck rightly calls lost.
        out = vg(conf, [STRESS, "--threads", "3", LIB, "3", "host",
                        "20", "churn"])
        print("stress under valgrind:", out.strip())
    finally:
        pub.send_signal(signal.SIGTERM)
        pub.wait(timeout=60)

    shutil.rmtree(tmp)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
