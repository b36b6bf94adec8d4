#!/usr/bin/python3
"""test_nss_getent - libnss_zk.so.2 answers real glibc and direct calls.

Builds a cache with zkh-publish (domain example.com), then checks:
  * getent -s hosts:zk hosts / ahosts / ahostsv4 / ahostsv6, reverse and
    enumeration, through real glibc with ZKHOSTS_CONF pointing at the cache;
  * every entry point called directly (nss_call dlopens the module): exact
    answers, the buffer-size sweep (ERANGE triple until the answer fits,
    nothing written before), status triples for not-found, wrong family,
    bad address length;
  * no cache at all and ZKHOSTS_NSS_BYPASS: UNAVAIL from every entry point,
    and getent fails cleanly (exit 2) instead of crashing.
Exit 0 pass, 1 fail.
"""
import os
import subprocess
import sys
import tempfile

BUILD = os.environ.get("ZKH_BUILD", os.path.abspath("build"))
LIB = os.path.join(BUILD, "libnss_zk.so.2")
PUBLISH = os.path.join(BUILD, "tests/tools/zkh-publish")
CALL = os.path.join(BUILD, "tests/tools/nss_call")

HOSTS = """\
10.0.0.5 alpha web
10.0.0.6 beta
fd00::5 alpha
10.0.0.7 gamma.example.com
fd00::9 v6only
10.0.0.8 Multi
10.0.0.9 multi
fd00::8 MULTI
"""

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def env_for(conf, extra=None):
    env = dict(os.environ)
    env["ZKHOSTS_CONF"] = conf
    env["LD_LIBRARY_PATH"] = BUILD
    env.pop("ZKHOSTS_NSS_BYPASS", None)
    if os.environ.get("ZKH_PRELOAD"):
        env["LD_PRELOAD"] = os.environ["ZKH_PRELOAD"]
        # Leaks inside getent itself are not ours to report.
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    if extra:
        env.update(extra)
    return env


def getent(conf, *args, extra=None):
    p = subprocess.run(["getent", "-s", "hosts:zk"] + list(args),
                       env=env_for(conf, extra), capture_output=True,
                       text=True, timeout=60)
    if p.returncode not in (0, 2):
        print("getent", args, "exit", p.returncode, p.stderr)
    return p.returncode, [" ".join(l.split()) for l in p.stdout.splitlines()]


def call(conf, *args, opts=(), extra=None):
    env = dict(os.environ)
    env["ZKHOSTS_CONF"] = conf
    env.pop("ZKHOSTS_NSS_BYPASS", None)
    if extra:
        env.update(extra)
    p = subprocess.run([CALL] + list(opts) + [LIB] + list(args), env=env,
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "nss_call %s mechanics: %s" %
          (" ".join(args), p.stderr.strip()))
    return p.stdout.splitlines()


def body(lines):
    """Answer lines without the sweep size."""
    return [l for l in lines if not l.startswith("sweep_min")]


def main():
    tmp = tempfile.mkdtemp(prefix="zkh-nss-getent-")
    os.chmod(tmp, 0o755)
    cache = os.path.join(tmp, "cache")
    hosts = os.path.join(tmp, "hosts")
    conf = os.path.join(tmp, "zkhosts.conf")
    with open(hosts, "w") as f:
        f.write(HOSTS)
    with open(conf, "w") as f:
        f.write("# test config\nzookeeper = 127.0.0.1:1\ncache = %s\n" %
                cache)
    subprocess.run([PUBLISH, "--domain", "example.com", cache, hosts],
                   check=True, timeout=60)

    # ---- real glibc through getent ----
    rc, out = getent(conf, "hosts", "beta")
    check(rc == 0 and out == ["10.0.0.6 beta.example.com beta"],
          "getent hosts beta: %r" % out)
    rc, out = getent(conf, "hosts", "alpha")
    check(rc == 0 and out == ["fd00::5 alpha.example.com alpha"],
          "getent hosts alpha (IPv6 first): %r" % out)
    rc, out = getent(conf, "hosts", "ALPHA.Example.COM.")
    check(rc == 0 and out == ["fd00::5 alpha.example.com alpha"],
          "case and trailing dot ignored: %r" % out)
    rc, out = getent(conf, "ahostsv4", "alpha")
    check(rc == 0 and out[0] == "10.0.0.5 STREAM alpha.example.com" and
          all(l.startswith("10.0.0.5 ") for l in out),
          "getent ahostsv4 alpha: %r" % out)
    rc, out = getent(conf, "ahostsv6", "alpha")
    check(rc == 0 and out[0] == "fd00::5 STREAM alpha.example.com" and
          all(l.startswith("fd00::5 ") for l in out),
          "getent ahostsv6 alpha: %r" % out)
    rc, out = getent(conf, "ahosts", "multi.example.com")
    check(rc == 0 and {l.split()[0] for l in out} ==
          {"10.0.0.8", "10.0.0.9", "fd00::8"} and
          "Multi.example.com" in out[0],
          "getent ahosts multi: %r" % out)
    rc, out = getent(conf, "hosts", "10.0.0.5")
    check(rc == 0 and out ==
          ["10.0.0.5 alpha.example.com alpha web.example.com web"],
          "reverse 10.0.0.5 (first created is canonical): %r" % out)
    rc, out = getent(conf, "hosts", "fd00::5")
    check(rc == 0 and out == ["fd00::5 alpha.example.com alpha"],
          "reverse fd00::5: %r" % out)
    rc, out = getent(conf, "hosts", "gamma")
    check(rc == 0 and out == ["10.0.0.7 gamma.example.com gamma"],
          "record named x.<domain> is not qualified twice: %r" % out)
    rc, out = getent(conf, "hosts", "nope")
    check(rc == 2 and out == [], "unknown name: exit 2, got %d %r" %
          (rc, out))
    rc, out = getent(conf, "ahostsv4", "v6only")
    check(rc == 2, "IPv4 of an IPv6-only name: exit 2, got %d" % rc)
    rc, out = getent(conf, "hosts", "10.9.9.9")
    check(rc == 2, "unknown address: exit 2, got %d" % rc)
    rc, out = getent(conf, "hosts", "bad..name")
    check(rc == 2, "invalid name: exit 2, got %d" % rc)
    rc, out = getent(conf, "hosts")
    want = ["10.0.0.5 alpha.example.com alpha",
            "fd00::5 alpha.example.com alpha",
            "10.0.0.6 beta.example.com beta",
            "10.0.0.7 gamma.example.com gamma",
            "10.0.0.8 Multi.example.com Multi",
            "10.0.0.9 Multi.example.com Multi",
            "fd00::8 Multi.example.com Multi",
            "fd00::9 v6only.example.com v6only",
            "10.0.0.5 web.example.com web"]
    check(rc == 0 and sorted(out) == sorted(want),
          "enumeration: %r" % out)
    # Forward and reverse agree for every enumerated address.
    for line in want:
        addr, name = line.split()[:2]
        rc, out = getent(conf, "hosts", addr)
        check(rc == 0 and out, "reverse of %s" % addr)
        if out:
            canon = out[0].split()[1]
            rc, fwd = getent(conf, "ahosts", canon)
            check(any(l.split()[0] == addr for l in fwd),
                  "reverse %s -> %s resolves back: %r" % (addr, canon, fwd))

    # ---- every entry point called directly, with the buffer sweep ----
    out = body(call(conf, "name4", "alpha", opts=["--misalign"]))
    check(out == ["status SUCCESS errno unset h_errno unset",
                  "tuple alpha.example.com 10.0.0.5",
                  "tuple alpha.example.com fd00::5", "ttl 1"],
          "gethostbyname4_r alpha: %r" % out)
    out = body(call(conf, "name4", "multi", opts=["--pat"]))
    check(out == ["status SUCCESS errno unset h_errno unset",
                  "tuple Multi.example.com 10.0.0.8 (caller)",
                  "tuple Multi.example.com 10.0.0.9",
                  "tuple Multi.example.com fd00::8", "ttl 1"],
          "gethostbyname4_r with caller tuple: %r" % out)
    out = body(call(conf, "name3", "multi", "4"))
    check(out == ["status SUCCESS errno unset h_errno unset",
                  "name Multi.example.com", "alias Multi",
                  "family 2 length 4", "addr 10.0.0.8", "addr 10.0.0.9",
                  "ttl 1", "canon Multi.example.com"],
          "gethostbyname3_r multi v4: %r" % out)
    out = body(call(conf, "name2", "alpha.example.com", "6",
                    opts=["--misalign"]))
    check(out == ["status SUCCESS errno unset h_errno unset",
                  "name alpha.example.com", "alias alpha",
                  "family 10 length 16", "addr fd00::5"],
          "gethostbyname2_r alpha v6: %r" % out)
    out = body(call(conf, "name", "beta"))
    check(out == ["status SUCCESS errno unset h_errno unset",
                  "name beta.example.com", "alias beta",
                  "family 2 length 4", "addr 10.0.0.6"],
          "gethostbyname_r beta: %r" % out)
    out = body(call(conf, "addr2", "10.0.0.5"))
    check(out == ["status SUCCESS errno unset h_errno unset",
                  "name alpha.example.com", "alias alpha",
                  "alias web.example.com", "alias web",
                  "family 2 length 4", "addr 10.0.0.5", "ttl 1"],
          "gethostbyaddr2_r 10.0.0.5: %r" % out)
    out = body(call(conf, "addr", "fd00::8", opts=["--misalign"]))
    check(out == ["status SUCCESS errno unset h_errno unset",
                  "name Multi.example.com", "alias Multi",
                  "family 10 length 16", "addr fd00::8"],
          "gethostbyaddr_r fd00::8: %r" % out)
    out = body(call(conf, "addr", "::ffff:10.0.0.6"))
    check(out == ["status SUCCESS errno unset h_errno unset",
                  "name beta.example.com", "alias beta",
                  "family 10 length 16", "addr ::ffff:10.0.0.6"],
          "IPv4-mapped reverse: %r" % out)
    out = call(conf, "enum")
    names = [l for l in out if l.startswith(("name ", "addr "))]
    check(out[0] == "sethostent SUCCESS" and
          out[-2] == "status NOTFOUND errno ENOENT h_errno HOST_NOT_FOUND"
          and out[-1] == "endhostent SUCCESS" and
          names.count("name alpha.example.com") == 2 and
          "addr fd00::9" in names and len(names) == 8 + 9,
          "enumeration by direct calls: %r" % out)

    nf = ["status NOTFOUND errno ENOENT h_errno HOST_NOT_FOUND"]
    for args in (("name4", "nope"), ("name3", "nope", "4"),
                 ("name2", "nope", "6"), ("name", "nope"),
                 ("addr2", "10.1.2.3"), ("addr", "fd00::77"),
                 ("name4", "bad..name"), ("name4", "x" * 300),
                 ("name", "-"), ("name4", "alpha.other.org")):
        out = call(conf, *args)
        check(out == nf, "%s: %r" % (" ".join(args)[:40], out))
    nodata = ["status NOTFOUND errno ENOENT h_errno NO_DATA"]
    check(call(conf, "name2", "v6only", "4") == nodata,
          "name with no IPv4 address: NOTFOUND/NO_DATA")
    check(call(conf, "name", "v6only") == nodata,
          "gethostbyname_r of an IPv6-only name: NOTFOUND/NO_DATA")
    bad = ["status UNAVAIL errno EAFNOSUPPORT h_errno NETDB_INTERNAL"]
    check(call(conf, "name3", "alpha", "1") == bad, "name3 with AF_UNIX")
    check(call(conf, "rawaddr", "4", "16", "10.0.0.5") == bad,
          "gethostbyaddr_r AF_INET with length 16")
    check(call(conf, "rawaddr", "6", "4", "fd00::5") == bad,
          "gethostbyaddr_r AF_INET6 with length 4")
    check(call(conf, "rawaddr", "1", "4", "10.0.0.5") == bad,
          "gethostbyaddr_r with AF_UNIX")

    # ---- no cache, and the bypass switch: UNAVAIL everywhere ----
    noconf = os.path.join(tmp, "nocache.conf")
    with open(noconf, "w") as f:
        f.write("cache = %s\n" % os.path.join(tmp, "missing"))
    missing = os.path.join(tmp, "no-such.conf")   # defaults: real cache path
    ua = ["status UNAVAIL errno ENOENT h_errno HOST_NOT_FOUND"]
    for args in (("name4", "alpha"), ("name3", "alpha", "4"),
                 ("name2", "alpha", "6"), ("name", "alpha"),
                 ("addr2", "10.0.0.5"), ("addr", "10.0.0.5")):
        out = call(noconf, *args)
        check(out == ua, "no cache, %s: %r" % (args[0], out))
        out = call(conf, *args, extra={"ZKHOSTS_NSS_BYPASS": "1"})
        check(out[0].startswith("status UNAVAIL"),
              "bypassed, %s: %r" % (args[0], out))
    out = call(noconf, "enum")
    check(out[1] in ua, "no cache, enumeration: %r" % out)
    out = call(conf, "enum", extra={"ZKHOSTS_NSS_BYPASS": "1"})
    check(out[0] == "sethostent UNAVAIL" and out[1].startswith(
        "status UNAVAIL"), "bypassed enumeration: %r" % out)
    if not os.path.exists("/var/cache/zkcached"):
        out = call(missing, "name4", "alpha")
        check(out == ua, "missing config means default cache: %r" % out)
    rc, out = getent(noconf, "hosts", "alpha")
    check(rc == 2 and out == [], "getent without cache: exit 2")
    rc, out = getent(noconf, "ahosts", "alpha")
    check(rc == 2 and out == [], "getent ahosts without cache: exit 2")
    rc, out = getent(noconf, "hosts")
    check(rc == 0 and out == [], "enumeration without cache: empty")

    subprocess.run(["rm", "-rf", tmp])
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
