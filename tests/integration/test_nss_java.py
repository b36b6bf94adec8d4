#!/usr/bin/python3
"""test_nss_java - an unmodified JVM (the clients zkhosts serves: Hadoop,
HBase, Kafka) resolves through libnss_zk.so.2 with `hosts: files zk`.

Java cannot choose NSS sources itself, so the JVM runs with the
nss_select.so preload shim (tests/tools/nss_select.c), which selects
`hosts: files zk` in-process with glibc's __nss_configure_lookup: no mount
namespace, no privilege, /etc/nsswitch.conf untouched. A small program
(compiled here with javac) checks InetAddress.getAllByName (both
families), getCanonicalHostName (the reverse lookup), that /etc/hosts
still answers first (localhost) and that an unknown name is an
UnknownHostException; and, as a control, that with `hosts: files` alone
the zk names are unknown (so the check can fail).
Exit 0 pass, 1 fail, 77 skip (no javac, or the shim/publisher not built).
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import zkhdaemon  # noqa: E402

BUILD = zkhdaemon.BUILD
PUBLISH = os.path.join(BUILD, "tests/tools/zkh-publish")

HOSTS = """\
10.0.7.5 jalpha
fd00::7:5 jalpha
10.0.7.6 jbeta
"""

PROGRAM = r"""
import java.net.InetAddress;
import java.net.UnknownHostException;
public class Lookup {
    public static void main(String[] args) {
        for (String name : args) {
            try {
                StringBuilder sb = new StringBuilder(name + " ->");
                for (InetAddress a : InetAddress.getAllByName(name))
                    sb.append(" " + a.getHostAddress() + "=" + a.getCanonicalHostName());
                System.out.println(sb);
            } catch (UnknownHostException e) {
                System.out.println(name + " -> unknown");
            }
        }
    }
}
"""

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def main():
    for p in (PUBLISH, zkhdaemon.NSS_SELECT):
        if not os.path.exists(p):
            print("%s not built" % p)
            return 77
    if not shutil.which("javac") or not shutil.which("java"):
        print("javac not installed (default-jdk-headless): skip")
        return 77
    tmp = tempfile.mkdtemp(prefix="zkh-nss-java-")
    try:
        os.chmod(tmp, 0o755)
        cache = os.path.join(tmp, "cache")
        hosts = os.path.join(tmp, "hosts")
        conf = os.path.join(tmp, "zkhosts.conf")
        with open(hosts, "w") as f:
            f.write(HOSTS)
        with open(conf, "w") as f:
            f.write("cache = %s\n" % cache)
        subprocess.run([PUBLISH, "--domain", "example.com", cache, hosts],
                       check=True, timeout=60, stdout=subprocess.DEVNULL)
        with open(os.path.join(tmp, "Lookup.java"), "w") as f:
            f.write(PROGRAM)
        subprocess.run(["javac", "-d", tmp, os.path.join(tmp, "Lookup.java")],
                       check=True, timeout=300)
        names = ["jalpha", "jbeta.example.com", "localhost", "nope-not-there.invalid"]
        # The JVM's own leaks are not ours: no leak check under ASan.
        env = zkhdaemon.select_env(conf, "files zk")
        env["ASAN_OPTIONS"] = "detect_leaks=0"
        # Java caches answers (and prefers IPv4 only if told): defaults.
        cmd = ["java", "-Xss512k", "-XX:+UseSerialGC", "-cp", tmp, "Lookup"] + names
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        print(p.stdout, p.stderr[-2000:])
        check(p.returncode == 0, "java exited %d" % p.returncode)
        out = dict(line.split(" -> ", 1) for line in p.stdout.splitlines() if " -> " in line)
        alpha = set(out.get("jalpha", "").split())
        check({"10.0.7.5=jalpha.example.com", "fd00:0:0:0:0:0:7:5=jalpha.example.com"} <= alpha,
              "getAllByName jalpha, both families, canonical name: %r" % out.get("jalpha"))
        check(out.get("jbeta.example.com") == "10.0.7.6=jbeta.example.com",
              "getAllByName jbeta.example.com: %r" % out.get("jbeta.example.com"))
        check("127.0.0.1" in out.get("localhost", ""), "files still answers localhost: %r"
              % out.get("localhost"))
        check(out.get("nope-not-there.invalid") == "unknown", "an unknown name is unknown: %r"
              % out.get("nope-not-there.invalid"))

        # Control: the same JVM with `hosts: files` only does not know the
        # names (and asks no DNS server), so they came from the module.
        env["ZKH_NSS_HOSTS"] = "files"
        p = subprocess.run(cmd[:-len(names)] + ["jalpha"], env=env, capture_output=True,
                           text=True, timeout=300)
        check(p.stdout.strip() == "jalpha -> unknown",
              "with hosts: files only jalpha must be unknown (else this test proves "
              "nothing): %r" % p.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
