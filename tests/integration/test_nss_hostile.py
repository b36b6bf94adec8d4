#!/usr/bin/python3
"""test_nss_hostile - libnss_zk.so.2 refuses or ignores hostile caches and
never crashes or answers wrongly.

Each case starts from a good cache (zkh-publish) in its own directory under
a root-owned 0755 parent, damages it, and resolves "alpha" with direct
calls (nss_call) and through getent:
  * refused or unusable (UNAVAIL): missing dir / hosts.mdb / generation;
    empty, truncated, random-bytes hosts.mdb; a FIFO or a directory in
    its place; short or bad-magic generation; files owned by another user;
    group- or world-writable files and directory; world-writable or
    foreign-owned parent; symlinked hosts.mdb, generation or directory;
    LMDB files with a bad meta, another schema, no meta, wrong db flags;
  * accepted (the trust rules are not stricter than the design): a cache
    directory owned by an unprivileged daemon user with files owned by it
    or by root;
  * values that do not decode (nss_badcache "values"): those names and
    addresses are NOTFOUND, the good record still answers, enumeration
    yields only the good record.
Exit 0 pass, 1 fail.
"""
import os
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("ZKH_BUILD", os.path.abspath("build"))
LIB = os.path.join(BUILD, "libnss_zk.so.2")
PUBLISH = os.path.join(BUILD, "tests/tools/zkh-publish")
CALL = os.path.join(BUILD, "tests/tools/nss_call")
BAD = os.path.join(BUILD, "tests/tools/nss_badcache")
NOBODY = 65534
OTHER = 12345

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def call(conf, *args):
    env = dict(os.environ, ZKHOSTS_CONF=conf)
    env.pop("ZKHOSTS_NSS_BYPASS", None)
    p = subprocess.run([CALL, LIB] + list(args), env=env,
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return ["exit %d: %s" % (p.returncode, p.stderr.strip()[-300:])]
    return [l for l in p.stdout.splitlines()
            if not l.startswith("sweep_min")]


def getent(conf, *args):
    env = dict(os.environ, ZKHOSTS_CONF=conf, LD_LIBRARY_PATH=BUILD)
    env.pop("ZKHOSTS_NSS_BYPASS", None)
    if os.environ.get("ZKH_PRELOAD"):
        env["LD_PRELOAD"] = os.environ["ZKH_PRELOAD"]
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    p = subprocess.run(["getent", "-s", "hosts:zk"] + list(args), env=env,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.split()


class Case:
    def __init__(self, root, name):
        self.parent = os.path.join(root, name)
        os.mkdir(self.parent, 0o755)
        os.chmod(self.parent, 0o755)
        self.dir = os.path.join(self.parent, "cache")
        self.conf = os.path.join(self.parent, "zkhosts.conf")
        with open(self.conf, "w") as f:
            f.write("cache = %s\n" % self.dir)
        hosts = os.path.join(self.parent, "hosts")
        with open(hosts, "w") as f:
            f.write("10.0.0.5 alpha\n10.0.0.6 beta\n")
        subprocess.run([PUBLISH, self.dir, hosts], check=True, timeout=60,
                       stdout=subprocess.DEVNULL)
        self.mdb = os.path.join(self.dir, "hosts.mdb")
        self.gen = os.path.join(self.dir, "generation")


def expect_unavail(root, name, damage, h_errno=None):
    c = Case(root, name)
    damage(c)
    out = call(c.conf, "name4", "alpha")
    ok = out and out[0].startswith("status UNAVAIL errno ENOENT")
    if ok and h_errno:
        ok = out[0].endswith("h_errno " + h_errno)
    check(ok, "%s: want UNAVAIL%s, got %r" %
          (name, " " + h_errno if h_errno else "", out))
    out = call(c.conf, "addr", "10.0.0.5")
    check(out and out[0].startswith("status UNAVAIL"),
          "%s: reverse, got %r" % (name, out))
    out = call(c.conf, "enum")
    check(len(out) == 3 and out[1].startswith("status UNAVAIL"),
          "%s: enumeration, got %r" % (name, out))
    rc, words = getent(c.conf, "ahosts", "alpha")
    check(rc == 2 and not words, "%s: getent exit 2, got %d %r" %
          (name, rc, words))


def expect_ok(root, name, damage):
    c = Case(root, name)
    damage(c)
    out = call(c.conf, "name4", "alpha")
    check(out[:2] == ["status SUCCESS errno unset h_errno unset",
                      "tuple alpha 10.0.0.5"],
          "%s: want SUCCESS, got %r" % (name, out))


def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def replace_with_symlink(path):
    real = path + ".real"
    os.rename(path, real)
    os.symlink(real, path)


def main():
    root = tempfile.mkdtemp(prefix="zkh-nss-hostile-")
    os.chmod(root, 0o755)
    size = None

    def truncate_half(c):
        nonlocal size
        size = os.path.getsize(c.mdb)
        os.truncate(c.mdb, size // 2)

    cases = [
        ("missing-dir", lambda c: shutil.rmtree(c.dir), "HOST_NOT_FOUND"),
        ("missing-mdb", lambda c: os.unlink(c.mdb), "HOST_NOT_FOUND"),
        ("missing-generation", lambda c: os.unlink(c.gen),
         "HOST_NOT_FOUND"),
        ("empty-mdb", lambda c: os.truncate(c.mdb, 0), "NO_RECOVERY"),
        ("truncated-half", truncate_half, "NO_RECOVERY"),
        ("truncated-page", lambda c: os.truncate(
            c.mdb, os.path.getsize(c.mdb) - 4096), "NO_RECOVERY"),
        ("truncated-meta", lambda c: os.truncate(c.mdb, 5000),
         "NO_RECOVERY"),
        ("random-bytes", lambda c: write(
            c.mdb, os.urandom(os.path.getsize(c.mdb))), "NO_RECOVERY"),
        ("zero-bytes", lambda c: write(c.mdb, bytes(65536)),
         "NO_RECOVERY"),
        ("mdb-is-fifo", lambda c: (os.unlink(c.mdb), os.mkfifo(c.mdb, 0o644)),
         "NO_RECOVERY"),
        ("mdb-is-dir", lambda c: (os.unlink(c.mdb), os.mkdir(c.mdb, 0o755)),
         "NO_RECOVERY"),
        ("generation-short", lambda c: os.truncate(c.gen, 100),
         "NO_RECOVERY"),
        ("generation-bad-magic", lambda c: write(c.gen, b"X" * 4096),
         "NO_RECOVERY"),
        ("mdb-owned-by-other", lambda c: os.chown(c.mdb, NOBODY, NOBODY),
         "NO_RECOVERY"),
        ("generation-owned-by-other",
         lambda c: os.chown(c.gen, NOBODY, NOBODY), "NO_RECOVERY"),
        ("mdb-group-writable", lambda c: os.chmod(c.mdb, 0o664),
         "NO_RECOVERY"),
        ("mdb-world-writable", lambda c: os.chmod(c.mdb, 0o646),
         "NO_RECOVERY"),
        ("generation-world-writable", lambda c: os.chmod(c.gen, 0o666),
         "NO_RECOVERY"),
        ("dir-group-writable", lambda c: os.chmod(c.dir, 0o775),
         "NO_RECOVERY"),
        ("dir-world-writable", lambda c: os.chmod(c.dir, 0o757),
         "NO_RECOVERY"),
        ("dir-sticky-world-writable", lambda c: os.chmod(c.dir, 0o1777),
         "NO_RECOVERY"),
        ("parent-world-writable", lambda c: os.chmod(c.parent, 0o1777),
         "NO_RECOVERY"),
        ("parent-group-writable", lambda c: os.chmod(c.parent, 0o775),
         "NO_RECOVERY"),
        ("parent-owned-by-other", lambda c: os.chown(c.parent, OTHER, OTHER),
         "NO_RECOVERY"),
        ("files-owned-by-other-than-dir-owner",
         lambda c: (os.chown(c.dir, NOBODY, NOBODY),
                    os.chown(c.mdb, OTHER, OTHER)), "NO_RECOVERY"),
        ("mdb-symlink", lambda c: replace_with_symlink(c.mdb),
         "NO_RECOVERY"),
        ("generation-symlink", lambda c: replace_with_symlink(c.gen),
         "NO_RECOVERY"),
        ("dir-symlink", lambda c: replace_with_symlink(c.dir),
         "NO_RECOVERY"),
    ]
    for name, damage, herr in cases:
        expect_unavail(root, name, damage, herr)

    # Not refused: the daemon may run as its own user.
    expect_ok(root, "dir-owned-by-daemon-user",
              lambda c: os.chown(c.dir, NOBODY, NOBODY))
    expect_ok(root, "all-owned-by-daemon-user",
              lambda c: [os.chown(p, NOBODY, NOBODY)
                         for p in (c.dir, c.mdb, c.gen)])
    expect_ok(root, "parent-owned-by-daemon-user",
              lambda c: [os.chown(p, NOBODY, NOBODY)
                         for p in (c.parent, c.dir)])

    # LMDB files that are valid LMDB but not valid snapshots.
    for mode in ("badmeta", "schema", "nometa", "dupnames"):
        d = os.path.join(root, "lmdb-" + mode)
        os.mkdir(d, 0o755)
        conf = os.path.join(d, "zkhosts.conf")
        with open(conf, "w") as f:
            f.write("cache = %s/cache\n" % d)
        subprocess.run([BAD, d + "/cache", mode], check=True, timeout=60)
        out = call(conf, "name4", "ok")
        check(out == ["status UNAVAIL errno ENOENT h_errno NO_RECOVERY"],
              "lmdb %s: want UNAVAIL, got %r" % (mode, out))

    # Values that do not decode are absent; the good one still answers.
    d = os.path.join(root, "lmdb-values")
    os.mkdir(d, 0o755)
    conf = os.path.join(d, "zkhosts.conf")
    with open(conf, "w") as f:
        f.write("cache = %s/cache\n" % d)
    subprocess.run([BAD, d + "/cache", "values"], check=True, timeout=60)
    nf = ["status NOTFOUND errno ENOENT h_errno HOST_NOT_FOUND"]
    check(call(conf, "name4", "ok")[:2] ==
          ["status SUCCESS errno unset h_errno unset", "tuple ok 10.0.0.1"],
          "good record among garbage answers")
    for n in ("junk", "empty", "beta", "gamma", "delta", "zero", "trunc",
              "a" * 300):
        for fn in (("name4", n), ("name2", n, "4"), ("name", n)):
            out = call(conf, *fn)
            check(out == nf, "garbage %s %s: %r" % (fn[0], n[:10], out))
    out = call(conf, "addr", "10.0.0.1")
    check(out[:2] == ["status SUCCESS errno unset h_errno unset",
                      "name ok"] and not any(
                          l.startswith("alias") for l in out),
          "reverse skips garbage duplicates: %r" % out)
    for a in ("10.0.0.2", "10.0.0.3", "10.0.0.5", "10.0.0.6", "10.0.0.7"):
        out = call(conf, "addr", a)
        check(out == nf, "reverse %s names no valid record holding it: %r"
              % (a, out))
    out = call(conf, "enum")
    check([l for l in out if l.startswith("name")] == ["name ok"],
          "enumeration skips garbage: %r" % out)
    rc, words = getent(conf, "hosts")
    check(rc == 0 and words == ["10.0.0.1", "ok"],
          "getent enumeration over garbage: %d %r" % (rc, words))

    shutil.rmtree(root)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
