#!/usr/bin/env python3
"""Namespaces and cgroups: the tools in the host namespace see every
namespace's sessions, exactly, labelled with their namespace and cgroup.

Real namespaces (ip netns, veth), real cgroups made under the cgroup2
mount with the workload's processes moved in, real BPF.  Ground truth is
the workload's (tcpload), as in test_integration.py, whose helpers these
tests use.  Output: one line per case, ok / not ok / skip.
"""
import contextlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_integration import (  # noqa: E402
    Hosts, Loopback, Skip, TCPLIFE, TCPLOAD, TCPTOP, Tool, check_exact,
    check_life, long_lived, main, need_root, sh, tcpload, wait_quiet)

TAG = os.getpid() % 10000


def cgroup2_mount():
    """Hybrid hosts mount it at /sys/fs/cgroup/unified, pure v2 ones at
    /sys/fs/cgroup: /proc/mounts says which."""
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    raise Skip("no cgroup2 file system mounted")


class Cgroup:
    """A cgroup v2 directory; workloads started through it run inside."""

    def __init__(self, name, parent=None):
        base = parent.path if parent else cgroup2_mount()
        self.rel = (parent.rel if parent else "") + "/" + name
        self.path = os.path.join(base, name)

    def __enter__(self):
        need_root()
        os.mkdir(self.path)
        return self

    def popen(self, args):
        """The process joins the cgroup before it execs, so every socket
        it (and its children) make belongs there."""
        return subprocess.Popen(
            ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"',
             self.path] + [str(a) for a in args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __exit__(self, *exc):
        # Emptied once its processes are reaped; bounded retry.
        deadline = time.time() + 10
        while True:
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)


def finish(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode:
        raise AssertionError("tcpload: " + err[-300:])
    truth = [json.loads(line) for line in out.splitlines()]
    if any(t["close"] == "rst-unacked" for t in truth):
        raise AssertionError("workload could not reset after ack")
    return truth


def exact(truth, rows_by_role, tool, what=""):
    """check_exact, with the tool's counters in the message."""
    try:
        check_exact(truth, rows_by_role, what=what)
    except AssertionError as e:
        raise AssertionError("%s [%s]" % (e, tool.stderr.strip()[-700:]))


def netns_inode(name):
    return os.stat("/run/netns/" + name).st_ino


def in_netns(rows, name):
    ino = netns_inode(name)
    return [r for r in rows if r["netns"] == ino]


def by_side(rows, hosts):
    """Client rows from A's namespace, server rows from B's (one list when
    both sides share a namespace)."""
    rc = in_netns(rows, hosts.a)
    return rc, rc if hosts.a == hosts.b else in_netns(rows, hosts.b)


def check_cgroup(rows, cg, what):
    bad = {r["cgroup"] for r in rows} - {cg.rel}
    if bad:
        raise AssertionError("%s: cgroup %s, want %s" % (what, sorted(
            map(str, bad)), cg.rel))


def stats_of(stderr):
    """--stats: "prog: stats: key value key value ..." -> dict."""
    for line in stderr.splitlines():
        if ": stats: " in line:
            f = line.split(": stats: ", 1)[1].split()
            return dict(zip(f[::2], f[1::2]))
    raise AssertionError("no stats line: " + stderr[-300:])


def churn_args(hosts, addr, family, conns):
    return ["--family", family, "--addr", addr, "--client-netns", hosts.a,
            "--server-netns", hosts.b, "--conns", conns, "--parallel", 8,
            "--rounds", 3, "--round-gap-ms", 150, "--close", "mixed",
            "--tx-base", 1000 + conns, "--rx-base", 3000 + conns]


def topology(stack, tag):
    """Three places at once: two veth pairs (the same addresses in each:
    only the namespace tells them apart) and one loopback namespace."""
    places = [(stack.enter_context(Hosts("%s%d" % (tag, i))), "198.18.0.2",
               4) for i in range(2)]
    places.append((stack.enter_context(Loopback(tag)), "::1", 6))
    cgs = [stack.enter_context(Cgroup("tsn%d%s%d" % (TAG, tag, i)))
           for i in range(len(places))]
    return places, cgs


def quiet(places):
    for h, _, _ in places:
        wait_quiet(h.a)
        wait_quiet(h.b)


def check_places(t, places, cgs, truths, check):
    """Each place's rows, by namespace: @check on them, and their cgroup."""
    assert t.rc == 0, t.stderr
    for (h, _, _), cg, truth in zip(places, cgs, truths):
        rc, rs = by_side(t.rows, h)
        check(truth, {"client": rc, "server": rs}, h)
        check_cgroup(rc + rs, cg, h.a)


def run_all_namespaces(tag, mode=(), conns=150):
    """tcptop in the host namespace, workloads in three namespaces, each
    in its own cgroup: every side exact, with its netns and cgroup."""
    with contextlib.ExitStack() as st:
        places, cgs = topology(st, tag)
        poll = "poll" in mode
        t = Tool(None, "--netns", "all", "--stats", *mode,
                 "0.4" if poll else "0.5")
        try:
            procs = []
            for (h, addr, fam), cg in zip(places, cgs):
                args = long_lived(h.a, h.b, addr, fam, conns=20) if poll \
                    else churn_args(h, addr, fam, conns)
                procs.append(cg.popen([TCPLOAD] + list(args)))
            if poll:
                # Rounds end by ~1 s; connections stay open until ~4 s.
                time.sleep(2.2)
                t.stop()
            truths = [finish(p) for p in procs]
            quiet(places)
        finally:
            t.stop()
        check_places(t, places, cgs, truths, lambda truth, rows, h: exact(
            truth, rows, t, "%s: " % h.a))
        if "trace" not in mode:
            s = stats_of(t.stderr)
            assert int(s["netns_found"]) >= 5, s
        return t


def test_netns_all_hybrid():
    t = run_all_namespaces("h")
    assert sum(r["lost"] for r in t.rows) == 0


def test_netns_all_trace():
    run_all_namespaces("t", mode=("--mode", "trace"), conns=100)


def test_netns_all_poll():
    run_all_namespaces("p", mode=("--mode", "poll"))


def in_initial_netns():
    """As the tools decide it: PID 1's namespace, or where its link is
    unreadable, the initial namespace's fixed inode (newer kernels)."""
    own = os.readlink("/proc/self/ns/net")
    try:
        return os.readlink("/proc/1/ns/net") == own
    except OSError:
        return own == "net:[%d]" % 0xEFFFFFF9


def test_netns_default_is_all_for_root_here():
    """Root in the initial namespace: no --netns needed."""
    need_root()
    if not in_initial_netns():
        raise Skip("not in the initial network namespace")
    with Loopback("df") as h, Cgroup("tsn%ddf" % TAG) as cg:
        t = Tool(None, "--stats", "0.5")
        try:
            truth = finish(cg.popen([TCPLOAD] + churn_args(h, "127.0.0.1",
                                                           4, 40)))
            wait_quiet(h.a)
            ino = netns_inode(h.a)
        finally:
            t.stop()
    rows = [r for r in t.rows if r["netns"] == ino]
    exact(truth, {"client": rows, "server": rows}, t)
    check_cgroup(rows, cg, h.a)


def test_netns_tcplife_all():
    with contextlib.ExitStack() as st:
        places, cgs = topology(st, "l")
        t = Tool(None, "--netns", "all", prog=TCPLIFE)
        try:
            procs = [cg.popen([TCPLOAD] + churn_args(h, addr, fam, 100))
                     for (h, addr, fam), cg in zip(places, cgs)]
            truths = [finish(p) for p in procs]
            quiet(places)
        finally:
            t.stop()
        check_places(t, places, cgs, truths,
                     lambda truth, rows, h: check_life(truth, rows))


def run_cgroup_filter(prog, mode=()):
    """Two workloads at once in one namespace, in two cgroups; -c names the
    parent of one of them: exactly that one's sessions, all of them."""
    with Loopback("c" + prog[-4:]) as h, \
            Cgroup("tsn%dcp" % TAG) as parent, \
            Cgroup("child", parent) as child, \
            Cgroup("tsn%dco" % TAG) as other:
        # Not under "ip netns exec": it remounts /sys without cgroup2.
        args = ("--netns", "/run/netns/" + h.a, "-c", parent.rel,
                "--stats") + tuple(mode) + \
            (("0.5",) if prog == TCPTOP else ())
        t = Tool(None, *args, prog=prog)
        poll = "poll" in mode
        try:
            if poll:
                pa = child.popen([TCPLOAD] + list(long_lived(
                    h.a, h.a, "127.0.0.1", 4, conns=20)))
                pb = other.popen([TCPLOAD] + list(long_lived(
                    h.a, h.a, "127.0.0.1", 4, conns=20)))
                time.sleep(2.2)
                t.stop()
            else:
                pa = child.popen([TCPLOAD] + churn_args(h, "127.0.0.1", 4,
                                                        120))
                pb = other.popen([TCPLOAD] + churn_args(h, "127.0.0.1", 4,
                                                        130))
            truth, other_truth = finish(pa), finish(pb)
            wait_quiet(h.a)
        finally:
            t.stop()
    assert t.rc == 0, t.stderr
    check_cgroup(t.rows, child, "-c")
    if prog == TCPTOP:
        exact(truth, {"client": t.rows, "server": t.rows}, t)
    else:
        check_life(truth, {"client": t.rows, "server": t.rows})
    other_ports = {x["lport"] for x in other_truth} - \
        {x["lport"] for x in truth}
    assert not [r for r in t.rows if r["lport"] in other_ports], \
        "sessions of the other cgroup shown"
    return stats_of(t.stderr)


def test_cgroup_filter_in_kernel_tcptop():
    s = run_cgroup_filter(TCPTOP)
    # The probe and the dump bytecode did it all: nothing left to drop.
    assert s["cgroup_in_dump"] == "1" and s["cgroup_filtered"] == "0", s


def test_cgroup_filter_tcptop_poll():
    s = run_cgroup_filter(TCPTOP, ("--mode", "poll"))
    assert s["cgroup_in_dump"] == "1", s


def test_cgroup_filter_tcptop_trace():
    run_cgroup_filter(TCPTOP, ("--mode", "trace"))


def test_cgroup_filter_tcplife():
    run_cgroup_filter(TCPLIFE)


def test_cgroup_bad_path_one_line():
    for prog in (TCPTOP, TCPLIFE):
        p = subprocess.run([prog, "-c", "/no/such/cgroup-%d" % TAG],
                           capture_output=True, text=True, timeout=30)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 1 and len(lines) == 1 and \
            "not a cgroup v2 directory" in lines[0], (prog, p.stderr)


def net_fds(pid):
    """The namespaces a process holds open, as inodes: nsfs fds show as
    "net:[N]" or as the bind mount they were opened through."""
    out = set()
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        path = os.path.join(d, fd)
        try:
            link = os.readlink(path)
            if link.startswith("net:[") or link.startswith("/run/netns/"):
                out.add(os.stat(path).st_ino)
        except OSError:
            continue
    return out


def wait_for(cond, what, timeout=15):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def test_netns_born_and_deleted_while_running():
    """A namespace made after start is taken up (its sessions exact); one
    deleted while running is let go: the tool holds nothing of it."""
    need_root()
    with Loopback("od") as old:
        old_ino = netns_inode(old.a)
        t = Tool(None, "--netns", "all", "--stats", "0.5")
        held = old_ino in net_fds(t.proc.pid)
    try:
        # Deleted (above) while the tool holds it: it must let go.
        assert held, "namespace present at start not taken up"
        wait_for(lambda: old_ino not in net_fds(t.proc.pid),
                 "the tool to let go of a deleted namespace")
        with Loopback("nb") as h, Cgroup("tsn%dnb" % TAG) as cg:
            new_ino = netns_inode(h.a)
            truth = finish(cg.popen([TCPLOAD] + churn_args(
                h, "127.0.0.1", 4, 60)))
            wait_quiet(h.a)
            assert new_ino in net_fds(t.proc.pid), "new namespace not taken up"
        wait_for(lambda: new_ino not in net_fds(t.proc.pid),
                 "the tool to let go of the new namespace")
    finally:
        t.stop()
    assert t.rc == 0, t.stderr
    rows = [r for r in t.rows if r["netns"] == new_ino]
    exact(truth, {"client": rows, "server": rows}, t)
    check_cgroup(rows, cg, "new namespace")
    s = stats_of(t.stderr)
    assert int(s["netns_gone"]) >= 2, s
    assert int(s["netns_failed"]) == 0 or "left out" in t.stderr, s


def test_netns_200():
    """200 namespaces with sessions in every one: all exact; once they go
    quiet, they are not dumped every interval."""
    need_root()
    names = ["tsM%d_%d" % (TAG, i) for i in range(200)]
    made = []
    try:
        for n in names:
            sh("ip", "netns", "add", n)
            made.append(n)
            sh("ip", "-n", n, "link", "set", "lo", "up")
        t = Tool(None, "--netns", "all", "--stats", "0.5")
        truth = {}
        try:
            for i in range(0, len(names), 25):
                batch = names[i:i + 25]
                procs = [subprocess.Popen(
                    [TCPLOAD] + [str(a) for a in (
                        "--client-netns", n, "--server-netns", n,
                        "--conns", 3, "--parallel", 3, "--close", "mixed",
                        "--tx-base", 500 + i, "--rx-base", 700 + i)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True) for n in batch]
                for n, p in zip(batch, procs):
                    truth[n] = finish(p)
            for n in names:
                wait_quiet(n)
            # Three quiet intervals: the 200 empty namespaces cost nothing.
            time.sleep(1.6)
        finally:
            t.stop()
        assert t.rc == 0, t.stderr
        bad = []
        for n in names:
            rows = in_netns(t.rows, n)
            try:
                check_exact(truth[n], {"client": rows, "server": rows})
            except AssertionError as e:
                bad.append("%s: %s" % (n, e))
        assert not bad, "%d namespaces wrong: %s" % (len(bad), bad[:3])
        s = stats_of(t.stderr)
        assert int(s["netns_found"]) >= 200, s
        assert int(s["netns_idle_skips"]) >= 400, s
    finally:
        for n in made:
            sh("ip", "netns", "del", n, check=False)


def test_unprivileged_poll_stays_self():
    """As nobody: the default is this namespace only, and asking for all
    is refused in one line."""
    need_root()
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    with Loopback("us") as h:
        t = Tool(None, "--mode", "poll", "--stats", "0.3", wrap=nobody)
        try:
            truth = tcpload(*long_lived(h.a, h.a, "127.0.0.1", 4, conns=5,
                                        rounds=2))
            wait_quiet(h.a)
        finally:
            t.stop()
        ino = netns_inode(h.a)
    assert t.rc == 0, t.stderr
    assert truth and not [r for r in t.rows if r["netns"] == ino], \
        "nobody saw another namespace"
    own = os.stat("/proc/self/ns/net").st_ino
    assert all(r["netns"] == own for r in t.rows)
    assert stats_of(t.stderr)["netns_scans"] == "0"
    p = subprocess.run(nobody + [TCPTOP, "--mode", "poll", "--netns", "all",
                                 "0.1", "1"], capture_output=True, text=True,
                       timeout=30)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1 and len(lines) == 1 and "--netns all" in \
        lines[0], p.stderr


def test_netns_path_and_bad_values():
    """--netns PATH: that one namespace only; a path that is none fails in
    one line."""
    with Loopback("pa") as h, Loopback("pb") as other:
        t = Tool(None, "--netns", "/run/netns/" + h.a, "0.5")
        try:
            truth = tcpload(*churn_args(h, "127.0.0.1", 4, 30))
            tcpload(*churn_args(other, "127.0.0.1", 4, 30))
            wait_quiet(h.a)
            wait_quiet(other.a)
        finally:
            t.stop()
        ino = netns_inode(h.a)
    assert {r["netns"] for r in t.rows} == {ino}, "rows of other namespaces"
    check_exact(truth, {"client": t.rows, "server": t.rows})
    for prog in (TCPTOP, TCPLIFE):
        p = subprocess.run([prog, "--netns", "/etc/passwd"],
                           capture_output=True, text=True, timeout=30)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 1 and len(lines) == 1 and \
            "not a network namespace" in lines[0], (prog, p.stderr)


def test_container_column():
    """--container: the cgroup's last part, a docker id cut to 12; the
    default table keeps bcc's columns."""
    cid = ("%04d" % TAG) + "ab" * 30
    with Loopback("ct") as h, Cgroup("docker-%s.scope" % cid) as cg:
        ns = ("--netns", "/run/netns/" + h.a)
        tt = Tool(None, *ns, "-C", "-S", "--container", "0.5",
                  json_out=False)
        tl = Tool(None, *ns, "-s", "--container", prog=TCPLIFE,
                  json_out=False)
        try:
            truth = finish(cg.popen([TCPLOAD] + churn_args(h, "127.0.0.1", 4,
                                                           10)))
            wait_quiet(h.a)
        finally:
            tt.stop()
            tl.stop()
    lines = [l.split() for l in tt.stdout.splitlines() if l.strip()]
    hdr = [l for l in lines if l[0] == "PID"]
    assert hdr and hdr[0][-1] == "CONTAINER", hdr
    body = [l for l in lines if l[0] not in ("PID", "--")]
    assert body and all(l[-1] == cid[:12] for l in body), body[:3]
    csv = tl.stdout.splitlines()
    assert csv[0].endswith(",MS,CONTAINER"), csv[0]
    assert len(csv) == 1 + len(truth) and \
        all(l.endswith("," + cid[:12]) for l in csv[1:]), csv[:3]


if __name__ == "__main__":
    sys.exit(main(globals()))
