#!/usr/bin/python3
"""test_acl - the ZooKeeper ACL of everything zkhosts creates, against a
real ZooKeeper (tests/lib/zkharness) with kazoo as the foreign clients.

With auth_file set: zkcached's layout (<root>, hosts, boot) and its
ephemeral registration, zkhostctl add/import records (and the layout they
create) and zkbarrier set states get ALL for the auth_file identity
(digest:USER:base64(sha1(USER:PASSWORD)), checked against the value
ZooKeeper's own generateDigest gives) and READ for everyone. An
unauthenticated client reads them but cannot set, delete or create under
them (a delete is checked against the parent's ACL); a client holding the
credential can. An explicit `acl` is used as given. Without credentials
nodes are open, as before. `zkhostctl acl show` reports an open layout,
`acl apply --dry-run` changes nothing, `acl apply` closes it (parents and
children, live registrations included) and a second apply finds nothing
to do. Bad `acl` values and credentials no ACL can be derived from stop
every program with exit 2 and a message that does not show the secret.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import zkharness  # noqa: E402
from zkharness import ZooKeeper  # noqa: E402
from zkhdaemon import BUILD, Env, Skip, require, run_tests, wait_for  # noqa: E402

ZKHOSTCTL = os.path.join(BUILD, "zkhostctl")
ZKBARRIER = os.path.join(BUILD, "zkbarrier")
ZKCACHED = os.path.join(BUILD, "zkcached")
HANG_GUARD = 120  # seconds: a hung process fails the test; no timing
USER, PASSWORD = "zkhosts", "s3cret"
# DigestAuthenticationProvider.generateDigest("zkhosts:s3cret") (Java)
DIGEST = "zkhosts:29rcgVREKyokPD8CMoNr/5hRFdE="
ALL, READ = 31, 1

state = {}


def tool(prog, conf, *args):
    return subprocess.run([prog, "-c", conf] + list(args), capture_output=True,
                          text=True, timeout=HANG_GUARD, stdin=subprocess.DEVNULL)


def expect(r, code, *parts):
    out = r.stdout + r.stderr
    assert r.returncode == code, "exit %d, want %d:\n%s" % (r.returncode, code, out)
    for p in parts:
        assert p in out, "%r not in:\n%s" % (p, out)
    return r


def acl_of(path):
    """[(scheme, id, perms)] of path, sorted, read by the admin client."""
    acls, _ = state["admin"].get_acls(path)
    return sorted((a.id.scheme, a.id.id, a.perms) for a in acls)


DEFAULT = sorted([("digest", DIGEST, ALL), ("world", "anyone", READ)])
OPEN = [("world", "anyone", ALL)]


def refused(fn, *args, **kw):
    """True if fn raised kazoo's NoAuthError (the ACL said no)."""
    from kazoo.exceptions import NoAuthError
    try:
        fn(*args, **kw)
    except NoAuthError:
        return True
    return False


def assert_closed(path, parent):
    """`anon` reads path but may not set it, delete it, or create beside it
    or under it; path is a child of parent."""
    anon = state["anon"]
    anon.get(path)
    anon.get_children(parent)
    assert refused(anon.set, path, b"203.0.113.66"), "anonymous set of " + path
    assert refused(anon.delete, path), "anonymous delete of " + path
    assert refused(anon.create, parent + "/intruder", b"203.0.113.66"), \
        "anonymous create under " + parent
    assert refused(anon.create, path + "/intruder", b""), "anonymous create under " + path


def auth_env(env, **keys):
    """Write auth_file (0600) and a config using it (plus keys)."""
    auth = os.path.join(env.dir, "zkhosts.auth")
    fd = os.open(auth, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, ("digest:%s:%s\n" % (USER, PASSWORD)).encode())
    os.close(fd)
    env.write_conf(auth_file=auth, **keys)
    return auth


def setup():
    require(ZKHOSTCTL, ZKBARRIER, ZKCACHED)
    try:
        import kazoo  # noqa: F401
    except ImportError:
        raise Skip("python3-kazoo not installed")
    zk = ZooKeeper()
    zk.__enter__()
    state["zk"] = zk
    state["anon"] = zk.kazoo()
    state["admin"] = zk.kazoo(auth_data=[("digest", "%s:%s" % (USER, PASSWORD))])


def test_daemon_layout_and_registration():
    zk = state["zk"]
    with Env(zk, root="/d/zkhosts") as env:
        auth_env(env, register="me 127.0.0.5")
        env.daemon()
        me = "/d/zkhosts/hosts/me"
        wait_for(lambda: state["admin"].exists(me), "the registration")
        for p in ("/d", "/d/zkhosts", "/d/zkhosts/hosts", "/d/zkhosts/boot", me):
            assert acl_of(p) == DEFAULT, (p, acl_of(p))
        assert_closed(me, "/d/zkhosts/hosts")
        assert_closed("/d/zkhosts/boot", "/d/zkhosts")
        # the holder of the credential manages names; the daemon follows
        admin = state["admin"]
        admin.create("/d/zkhosts/hosts/web", b"127.0.0.6")
        env.wait_resolves("web", {"127.0.0.6"})
        admin.set("/d/zkhosts/hosts/web", b"127.0.0.7")
        env.wait_resolves("web", {"127.0.0.7"})
        admin.delete("/d/zkhosts/hosts/web")
        env.wait_gone("web")
        assert env.resolve("me") == {"127.0.0.5"}
        assert "nodes zkcached creates get the ACL digest:" + DIGEST + ":cdrwa, " \
            "world:anyone:r" in env.daemons[0].log()
        assert PASSWORD not in env.daemons[0].log()


def test_tools_records_and_states():
    zk = state["zk"]
    with Env(zk, root="/t/zkhosts") as env:
        auth_env(env)
        expect(tool(ZKHOSTCTL, env.conf, "add", "a", "10.0.0.1"), 0)
        imp = os.path.join(env.dir, "hosts")
        with open(imp, "w") as f:
            f.write("10.0.0.2 b\n10.0.0.3 c\n")
        expect(tool(ZKHOSTCTL, env.conf, "import", imp), 0)
        expect(tool(ZKBARRIER, env.conf, "set", "db", "up"), 0)
        hosts, boot = "/t/zkhosts/hosts", "/t/zkhosts/boot"
        for p in ("/t", "/t/zkhosts", hosts, hosts + "/a", hosts + "/b",
                  hosts + "/c", boot, boot + "/db"):
            assert acl_of(p) == DEFAULT, (p, acl_of(p))
        for p in ("a", "b", "c"):
            assert_closed(hosts + "/" + p, hosts)
        assert_closed(boot + "/db", boot)
        assert state["anon"].get(hosts + "/a")[0] == b"10.0.0.1"
        # a tool without the credential is told why, and changes nothing
        open_conf = env.write_conf(path=os.path.join(env.dir, "anon.conf"))
        expect(tool(ZKHOSTCTL, open_conf, "rm", "a"), 3, "not authorised",
               "parent node's ACL")
        expect(tool(ZKBARRIER, open_conf, "set", "db", "down"), 3, "not authorised")
        assert state["anon"].get(boot + "/db")[0] == b"up"
        # with it: update, delete, create
        expect(tool(ZKHOSTCTL, env.conf, "add", "a", "10.0.0.9"), 0)
        expect(tool(ZKBARRIER, env.conf, "set", "db", "down"), 0)
        expect(tool(ZKHOSTCTL, env.conf, "rm", "b"), 0)
        admin = state["admin"]
        admin.create(hosts + "/d", b"10.0.0.4")
        admin.delete(hosts + "/d")
        assert admin.get(hosts + "/a")[0] == b"10.0.0.9"
        assert not admin.exists(hosts + "/b")


def test_explicit_acl():
    zk = state["zk"]
    with Env(zk, root="/x/zkhosts") as env:
        auth_env(env, acl="digest:%s:cdrwa, ip:127.0.0.1:r" % DIGEST)
        expect(tool(ZKBARRIER, env.conf, "set", "db", "up"), 0)
        want = sorted([("digest", DIGEST, ALL), ("ip", "127.0.0.1", READ)])
        assert acl_of("/x/zkhosts/boot/db") == want
        assert acl_of("/x/zkhosts/boot") == want
        assert_closed("/x/zkhosts/boot/db", "/x/zkhosts/boot")


def test_without_credentials_open_as_before():
    zk = state["zk"]
    with Env(zk, root="/o/zkhosts") as env:
        env.write_conf(register="me 127.0.0.5")
        env.daemon()
        wait_for(lambda: state["anon"].exists("/o/zkhosts/hosts/me"), "the registration")
        expect(tool(ZKHOSTCTL, env.conf, "add", "a", "10.0.0.1"), 0)
        expect(tool(ZKBARRIER, env.conf, "set", "db", "up"), 0)
        for p in ("/o/zkhosts", "/o/zkhosts/hosts", "/o/zkhosts/hosts/me",
                  "/o/zkhosts/hosts/a", "/o/zkhosts/boot/db"):
            assert acl_of(p) == OPEN, (p, acl_of(p))
        state["anon"].set("/o/zkhosts/hosts/a", b"10.0.0.2")
        # show says so, and that every node matches the (open) ACL
        expect(tool(ZKHOSTCTL, env.conf, "acl", "show"), 0,
               "configured world:anyone:cdrwa", "lets anyone change")


def test_apply_converts_an_open_layout():
    zk = state["zk"]
    anon = state["anon"]
    root = "/a/zkhosts"
    hosts, boot = root + "/hosts", root + "/boot"
    anon.create(hosts + "/old", b"10.1.0.1", makepath=True)
    anon.create(hosts + "/live", b"10.1.0.2", ephemeral=True)
    anon.create(boot + "/db", b"up", makepath=True)
    with Env(zk, root=root) as env:
        auth_env(env)
        nodes = [root, hosts, hosts + "/live", hosts + "/old", boot, boot + "/db"]
        r = expect(tool(ZKHOSTCTL, env.conf, "acl", "show"), 1,
                   "configured digest:%s:cdrwa, world:anyone:r" % DIGEST,
                   "0 right, 6 differ")
        for p in nodes:
            assert "differs  %s  world:anyone:cdrwa" % p in r.stdout, r.stdout
        r = expect(tool(ZKHOSTCTL, env.conf, "acl", "apply", "--dry-run"), 0,
                   "dry run: 6 to change, 0 already right")
        for p in nodes:
            assert "would set %s  world:anyone:cdrwa -> digest:" % p in r.stdout
            assert acl_of(p) == OPEN, p  # a dry run changes nothing
        r = expect(tool(ZKHOSTCTL, env.conf, "acl", "apply"), 0,
                   "applied: 6 changed, 0 already right")
        for p in nodes:
            assert ("set %s  world:anyone:cdrwa -> digest:%s:cdrwa, world:anyone:r"
                    % (p, DIGEST)) in r.stdout, r.stdout
            assert acl_of(p) == DEFAULT, (p, acl_of(p))
        assert_closed(hosts + "/old", hosts)
        assert_closed(boot + "/db", boot)
        assert_closed(boot, root)
        # the live registration kept its owner, only its ACL changed
        assert state["admin"].exists(hosts + "/live").ephemeralOwner == anon.client_id[0]
        expect(tool(ZKHOSTCTL, env.conf, "acl", "apply"), 0,
               "applied: 0 changed, 6 already right")
        expect(tool(ZKHOSTCTL, env.conf, "acl", "show"), 0, "6 right, 0 differ")
        # applying without the credential is refused node by node
        open_conf = env.write_conf(path=os.path.join(env.dir, "anon.conf"),
                                   acl="world:anyone:cdrwa")
        expect(tool(ZKHOSTCTL, open_conf, "acl", "apply"), 3, "not authorised",
               "ADMIN", "6 failed")
        assert acl_of(hosts) == DEFAULT


def test_bad_acl_and_credentials():
    zk = state["zk"]
    with Env(zk, root="/b/zkhosts") as env:
        # the password where its hash belongs: named, never echoed
        env.write_conf(acl="digest:%s:%s:cdrwa" % (USER, PASSWORD))
        for prog, args in ((ZKHOSTCTL, ("ls",)), (ZKBARRIER, ("get", "x"))):
            r = expect(tool(prog, env.conf, *args), 2, "key 'acl'",
                       "'digest:zkhosts:'", "base64 of SHA-1")
            assert PASSWORD not in r.stderr
        r = subprocess.run([ZKCACHED, "-c", env.conf], capture_output=True, text=True,
                           timeout=HANG_GUARD, stdin=subprocess.DEVNULL)
        assert r.returncode != 0 and "key 'acl'" in r.stderr, r.stderr
        assert PASSWORD not in r.stderr
        # credentials without USER: derive no ACL
        auth = os.path.join(env.dir, "zkhosts.auth")
        fd = os.open(auth, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, b"digest:nouser-s3cret\n")
        os.close(fd)
        env.write_conf(auth_file=auth)
        r = expect(tool(ZKHOSTCTL, env.conf, "add", "a", "10.0.0.1"), 2,
                   "USER:PASSWORD")
        assert "s3cret" not in r.stderr
        assert not state["admin"].exists("/b/zkhosts")  # nothing written
        r = subprocess.run([ZKCACHED, "-c", env.conf], capture_output=True, text=True,
                           timeout=HANG_GUARD, stdin=subprocess.DEVNULL)
        assert r.returncode != 0 and "USER:PASSWORD" in r.stderr, r.stderr
        assert "s3cret" not in r.stderr


def teardown():
    zk = state.pop("zk", None)
    if zk:
        zk.__exit__(None, None, None)


if __name__ == "__main__":
    run_tests([setup, test_daemon_layout_and_registration, test_tools_records_and_states,
               test_explicit_acl, test_without_credentials_open_as_before,
               test_apply_converts_an_open_layout, test_bad_acl_and_credentials,
               teardown])
