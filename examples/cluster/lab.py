"""lab - a cluster of "hosts" on one machine, made of Linux namespaces.

The driver process first moves itself into a new network namespace and a
new mount namespace of its own (isolate()): the lab's bridge, its veths and
every route live there, a tmpfs hides the lab's `ip netns` names from the
machine's /run/netns (created empty if missing, as iproute2 does), so the
machine's own network, /etc and /run/netns contents are never touched, two
labs can run at once, and, the temp dir aside, everything vanishes with
the driver even if it is SIGKILLed (children die by PR_SET_PDEATHSIG). Inside it, a bridge
(10.213.0.1/24) links one `ip netns` namespace per host; each host also
gets its own mount namespace (in which /etc/nsswitch.conf is a bind mount
saying `hosts: files zk`) and UTS namespace (its hostname is its name),
and its own read-only /sys showing only its own interfaces, all
held open by a "pause" process (sleep) living in all three, as a
container's pause process does. (Binding a mount namespace to a file with
`unshare --mount=FILE` failed intermittently with EINVAL here, on Linux
6.18, apparently in the kernel's mount-namespace loop check.)
Host.popen()/Host.run() start a program inside the pause process's
namespaces with nsenter. Lab.close() kills every process it started and
removes the namespaces, the bridge and the temp dir; it runs on normal
exit, on exceptions, and (registered with zkharness) on SIGINT/SIGTERM.

Root only. Run under /usr/bin/python3; stdlib only.
"""

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time

import zkharness

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
BRIDGE = "zkhbr0"
BRIDGE_ADDR = "10.213.0.1"
PREFIX_LEN = 24
NETNS_DIR = "/run/netns"  # fixed in iproute2; hidden under a private tmpfs


class Unsupported(Exception):
    """Namespaces, veths or bridges cannot be made on this machine."""


def _run(cmd, what=None, **kw):
    """Run cmd; raise RuntimeError naming `what` and the stderr on failure."""
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s: %s" % (
            what or cmd[0], r.returncode, " ".join(cmd), (r.stderr or r.stdout).strip()))
    return r.stdout


def isolate():
    """Move this (still single-threaded) process into a new network and
    mount namespace, bring up loopback, create the lab bridge and hide
    /run/netns under a tmpfs. Raise Unsupported when the machine cannot
    (not root, no namespaces, no bridge/veth support)."""
    if os.geteuid() != 0:
        raise Unsupported("the cluster lab needs root (network namespaces)")
    for tool in ("ip", "nsenter", "unshare", "mount"):
        if shutil.which(tool) is None:
            raise Unsupported("%s not installed" % tool)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
        raise Unsupported("unshare(CLONE_NEWNET|CLONE_NEWNS): %s"
                          % os.strerror(ctypes.get_errno()))
    try:
        _run(["mount", "--make-rprivate", "/"], "making the lab's mounts private")
        _run(["ip", "link", "set", "lo", "up"], "loopback in the lab namespace")
        _run(["ip", "link", "add", BRIDGE, "type", "bridge"], "creating the lab bridge")
        _run(["ip", "addr", "add", "%s/%d" % (BRIDGE_ADDR, PREFIX_LEN), "dev", BRIDGE],
             "addressing the lab bridge")
        _run(["ip", "link", "set", BRIDGE, "up"], "bringing the lab bridge up")
        # iproute2 itself creates /run/netns when it is missing; the tmpfs
        # over it exists only in this mount namespace.
        os.makedirs(NETNS_DIR, exist_ok=True)
        _run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=1m", "zkh-lab", NETNS_DIR],
             "hiding /run/netns under a private tmpfs")
        # the real capability check: one throwaway netns with a veth
        _run(["ip", "netns", "add", "zkh-probe"], "ip netns add")
        _run(["ip", "link", "add", "zkh-probe0", "type", "veth", "peer", "name", "eth0",
              "netns", "zkh-probe"], "creating a veth pair")
        _run(["ip", "netns", "del", "zkh-probe"], "ip netns del")
    except RuntimeError as e:
        raise Unsupported(str(e))


class Proc:
    """A process started on a host; stdout/stderr go to `log` (or a pipe)."""

    def __init__(self, host, argv, popen, log):
        self.host, self.argv, self.p, self.log = host, argv, popen, log

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def kill(self, sig=signal.SIGKILL):
        """Signal the process's whole group (it runs in its own session)."""
        if self.alive():
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout=None):
        return self.p.wait(timeout=timeout)

    def tail(self, n=40):
        if not self.log:
            return ""
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class Host:
    """One host: netns + mount ns + UTS ns, a directory with its config,
    cache, logs and nsswitch.conf."""

    def __init__(self, lab, name, address):
        self.lab, self.name, self.address = lab, name, address
        self.dir = os.path.join(lab.dir, "hosts", name)
        self.cache = os.path.join(self.dir, "cache")
        self.conf = os.path.join(self.dir, "zkhosts.conf")
        self.nsswitch = os.path.join(self.dir, "nsswitch.conf")
        self.pause = None  # Proc holding the mount and UTS namespaces
        self.netns = os.path.join(NETNS_DIR, name)
        self.veth = ("v-" + name)[:15]
        self.created = False

    def create(self):
        """Make the namespaces, plug the host into the bridge with its own
        address and a default route through the bridge (zkcached takes the
        default-route interface's addresses when `register` lists none)."""
        os.makedirs(self.dir, mode=0o755)
        os.chmod(self.dir, 0o755)
        with open(self.nsswitch, "w") as f:
            f.write("# host %s of the zkhosts cluster lab\nhosts: files zk\n" % self.name)
        _run(["ip", "netns", "add", self.name])
        self.created = True
        _run(["ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0",
              "netns", self.name])
        _run(["ip", "link", "set", self.veth, "master", BRIDGE, "up"])
        n = ["ip", "-n", self.name]
        _run(n + ["link", "set", "lo", "up"])
        _run(n + ["addr", "add", "%s/%d" % (self.address, PREFIX_LEN), "dev", "eth0"])
        _run(n + ["link", "set", "eth0", "up"])
        _run(n + ["route", "add", "default", "via", BRIDGE_ADDR])
        p = subprocess.Popen(
            ["nsenter", "--net=" + self.netns, "unshare", "--mount", "--uts",
             "--propagation", "private", "sh", "-c",
             'echo "$0" > /proc/sys/kernel/hostname && mount --bind "$1" /etc/nsswitch.conf'
             # a /sys showing this netns's interfaces, as `ip netns exec` does
             ' && umount -l /sys && mount -t sysfs -o ro,nosuid,nodev,noexec zkh-lab /sys'
             ' && echo ready && exec sleep infinity', self.name, self.nsswitch],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=zkharness._pdeathsig, text=True)
        self.pause = Proc(self, ["pause"], p, None)
        self.lab.procs.append(self.pause)
        if p.stdout.readline().strip() != "ready":
            p.kill()
            raise RuntimeError("making the namespaces of host %s failed: %s"
                               % (self.name, p.stderr.read().strip()))

    def prefix(self):
        """argv prefix that runs a program on this host."""
        return ["nsenter", "--target", str(self.pause.pid), "--net", "--mount", "--uts",
                "--wd=" + self.dir, "--"]

    def env(self, extra=None, foreign=False):
        """Environment for a program on this host: our NSS module on the
        library path, this host's config. foreign=True for programs not
        built here (java, python3): they get the sanitizer runtime
        preloaded when the tree is a sanitizer build."""
        e = dict(os.environ)
        e.pop("LD_PRELOAD", None)
        e["LD_LIBRARY_PATH"] = self.lab.build
        e["ZKHOSTS_CONF"] = self.conf
        pre = os.environ.get("ZKH_PRELOAD")
        if foreign and pre:
            e["LD_PRELOAD"] = pre
            e["ASAN_OPTIONS"] = "detect_leaks=0:handle_segv=0:allow_user_segv_handler=1"
        if extra:
            e.update(extra)
        return e

    def popen(self, argv, log=None, env=None, stdout=None):
        """Start argv on this host in its own session (Ctrl-C reaches only
        the driver, which then tears down), killed if the driver dies.
        Output goes to the file `log` (appended), or to `stdout`."""
        out = open(log, "ab") if log else stdout
        try:
            p = subprocess.Popen(self.prefix() + list(argv), env=env or self.env(),
                                 stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT if log else None,
                                 start_new_session=True, preexec_fn=zkharness._pdeathsig,
                                 text=stdout is not None)
        finally:
            if log:
                out.close()
        proc = Proc(self, argv, p, log)
        self.lab.procs.append(proc)
        return proc

    def run(self, argv, env=None, timeout=120):
        """Run argv on this host to completion; return CompletedProcess."""
        return subprocess.run(self.prefix() + list(argv), env=env or self.env(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, preexec_fn=zkharness._pdeathsig)

    def destroy(self):
        if self.created:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
            subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
            self.created = False


class Lab:
    """The lab: a temp dir (0755, root-owned: the NSS module refuses caches
    under a directory others can write), the hosts, every process."""

    def __init__(self, build):
        self.build = build
        self.hosts = {}
        self.procs = []
        self.dir = tempfile.mkdtemp(prefix="zkh-cluster-")
        os.chmod(self.dir, 0o755)
        os.makedirs(os.path.join(self.dir, "hosts"), mode=0o755)
        zkharness._install_handlers()
        zkharness._live.add(self)
        self.closed = False

    def add_host(self, name, address):
        h = Host(self, name, address)
        self.hosts[name] = h
        h.create()
        return h

    def stop_procs(self):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def close(self):
        """Tear everything down; safe to call repeatedly."""
        if self.closed:
            return
        self.closed = True
        self.stop_procs()
        for h in self.hosts.values():
            h.destroy()
        # the bridge and the /run/netns tmpfs exist only in the driver's own
        # namespaces (they vanish with it anyway); remove them explicitly
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
        subprocess.run(["umount", "-l", NETNS_DIR], capture_output=True)
        zkharness._live.discard(self)
        if os.environ.get("ZKH_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(pred, what, timeout, interval=0.05):
    """Poll pred() until true (returned); AssertionError naming `what` at
    the deadline (deadlines are generous: outcomes, not timings)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out (%ss) waiting for %s" % (timeout, what))
        time.sleep(interval)
