#!/usr/bin/env python3
"""Integration tests: real kernel, real sockets, real BPF.

Ground truth comes from the workload (bench/tcpload): every connection moves
a distinct, known number of payload bytes each way and reports its PID.  The
tools' JSON rows, summed per socket, must equal it exactly.

Output: one line per case, "ok NAME" / "not ok NAME: why" / "skip NAME: why".
Run a subset: test_integration.py NAME_SUBSTRING...
"""
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, os.environ.get("TCPSIGHT_BIN", "."))
TCPTOP = os.path.abspath(os.path.join(BIN, "tcptop"))
TCPLIFE = os.path.abspath(os.path.join(BIN, "tcplife"))
TCPLOAD = os.path.join(ROOT, "bench", "tcpload")
TOP_FIELDS = {"ts", "interval", "pid", "comm", "family", "laddr", "lport",
              "raddr", "rport", "rx_bytes", "tx_bytes", "state", "cookie",
              "closed", "lost", "netns", "cgroup"}


class Skip(Exception):
    pass


def sh(*cmd, check=True, netns=None, **kw):
    if netns:
        cmd = ("ip", "netns", "exec", netns) + cmd
    return subprocess.run(cmd, check=check, capture_output=True, text=True,
                          **kw)


def need_root():
    if os.geteuid() != 0:
        raise Skip("needs root (network namespaces and BPF)")


# ---------------------------------------------------------------- topology

class Hosts:
    """Two test hosts, A (client) and B (server), joined by veth.

    Addresses only from 198.18.0.0/15 and fd00::/8; torn down on exit.
    """

    def __init__(self, tag):
        suffix = "%d%s" % (os.getpid() % 10000, tag)
        self.a = "tsA" + suffix
        self.b = "tsB" + suffix
        self.veth = "tsv" + suffix

    def __enter__(self):
        need_root()
        for ns in (self.a, self.b):
            sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", self.veth + "a", "type", "veth", "peer",
           "name", self.veth + "b")
        for ns, end, v4, v6 in ((self.a, "a", "198.18.0.1", "fd00::1"),
                                (self.b, "b", "198.18.0.2", "fd00::2")):
            dev = self.veth + end
            sh("ip", "link", "set", dev, "netns", ns)
            sh("ip", "-n", ns, "addr", "add", v4 + "/24", "dev", dev)
            sh("ip", "-n", ns, "addr", "add", v6 + "/64", "dev", dev,
               "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        return self

    def drop_percent(self, pct):
        """Drops pct% of TCP packets leaving either host (nftables)."""
        for ns in (self.a, self.b):
            rules = ("table inet tsloss {\n chain out {\n"
                     "  type filter hook output priority 0;\n"
                     "  meta l4proto tcp numgen random mod 100 < %d drop\n"
                     " }\n}\n" % pct)
            subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"],
                           input=rules, text=True, check=True,
                           capture_output=True)

    def __exit__(self, *exc):
        for ns in (self.a, self.b):
            sh("ip", "netns", "del", ns, check=False)


class Loopback:
    """One private network namespace with only lo: loopback, isolated."""

    def __init__(self, tag):
        self.a = self.b = "tsL%d%s" % (os.getpid() % 10000, tag)

    def __enter__(self):
        need_root()
        sh("ip", "netns", "add", self.a)
        sh("ip", "-n", self.a, "link", "set", "lo", "up")
        return self

    def __exit__(self, *exc):
        sh("ip", "netns", "del", self.a, check=False)


# ---------------------------------------------------------------- tools

class Tool:
    """tcptop (or tcplife) in a namespace (None: this one), stopped with
    SIGINT."""

    def __init__(self, netns, *args, prog=TCPTOP, json_out=True, wrap=()):
        self.ready = tempfile.mktemp(prefix="tcpsight-ready-")
        self.json_out = json_out
        where = ["ip", "netns", "exec", netns] if netns else []
        cmd = where + list(wrap) + [prog, "--ready-file", self.ready] + \
            (["--json"] if json_out else []) + list(args)
        self.out = tempfile.TemporaryFile(mode="w+")
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=self.err)
        # A bound, not a wait: loading BPF on a busy machine is slow.
        deadline = time.time() + 90
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise AssertionError("tcptop did not start: " + self.stderr)
            time.sleep(0.02)
        os.unlink(self.ready)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.rc = self.proc.wait()
        self.out.seek(0)
        self.err.seek(0)
        self.stdout = self.out.read()
        self.stderr = self.err.read()
        self.rows = [json.loads(line) for line in self.stdout.splitlines()
                     if self.json_out]
        return self


def tcpload(*args, timeout=120):
    p = subprocess.run([TCPLOAD] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("tcpload failed (%d): %s" %
                             (p.returncode, p.stderr[-500:]))
    truth = [json.loads(line) for line in p.stdout.splitlines()]
    bad = [t for t in truth if t["close"] == "rst-unacked"]
    if bad:
        raise AssertionError("workload could not reset after ack: %d" %
                             len(bad))
    return truth


def wait_quiet(netns, timeout=30):
    """Waits until no TCP socket but listeners/TIME_WAIT is left."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = sh("ss", "-Htan", "state", "all", netns=netns).stdout
        live = [l for l in out.splitlines()
                if l.split() and l.split()[0] not in ("TIME-WAIT", "LISTEN")]
        if not live:
            return
        time.sleep(0.1)
    raise AssertionError("sockets still open in %s after %ds" %
                         (netns, timeout))


def key(laddr, lport, raddr, rport):
    return (laddr, int(lport), raddr, int(rport))


def distinct_lists(rows_by_role):
    """The row lists of every role, each once (one tool may serve both)."""
    out = []
    for rows in rows_by_role.values():
        if not any(rows is o for o in out):
            out.append(rows)
    return out


def sums(rows):
    """Per session (cookie): bytes, owners, closed rows, tuples."""
    out = {}
    for r in rows:
        s = out.setdefault(r["cookie"], {"rx": 0, "tx": 0, "pids": set(),
                                         "closed": 0, "tuples": set()})
        s["rx"] += r["rx_bytes"]
        s["tx"] += r["tx_bytes"]
        s["pids"].add(r["pid"])
        s["closed"] += bool(r["closed"])
        s["tuples"].add(key(r["laddr"], r["lport"], r["raddr"], r["rport"]))
    return out


def truth_by_cookie(truth):
    """The workload's sockets by SO_COOKIE: never reused, unlike a 4-tuple
    (a reset frees a port at once and the next connection may take it)."""
    out = {}
    for t in truth:
        c = t.get("cookie", 0)
        if not c:
            raise AssertionError("workload socket without a cookie: %s" % t)
        if c in out:
            raise AssertionError("workload cookie %d twice" % c)
        out[c] = t
    return out


def side_name(t):
    return "%s %s:%s close=%s cookie=%d" % (t["role"], t["laddr"], t["lport"],
                                            t["close"], t["cookie"])


def check_exact(truth, rows_by_role, check_pid=True, what=""):
    """Every side of every connection, matched by socket cookie: exact
    bytes under its own tuple, its owner's PID, and no row for a session
    the workload never made."""
    want = truth_by_cookie(truth)
    got = {}
    for rows in distinct_lists(rows_by_role):
        for c, g in sums(rows).items():
            if c in got:
                raise AssertionError("cookie %d in two tools' rows" % c)
            got[c] = g
    bad = []
    for c, t in want.items():
        g = got.get(c)
        name = side_name(t)
        tup = key(t["laddr"], t["lport"], t["raddr"], t["rport"])
        if g is None:
            bad.append("%s missing (tx %d rx %d)" % (name, t["tx"], t["rx"]))
        elif g["tx"] != t["tx"] or g["rx"] != t["rx"]:
            bad.append("%s tx %d/%d rx %d/%d" % (name, g["tx"], t["tx"],
                                                 g["rx"], t["rx"]))
        elif g["tuples"] != {tup}:
            bad.append("%s under %s" % (name, sorted(g["tuples"])))
        # Owners: never a wrong one.  Unknown (null) is allowed only on rows
        # of intervals in which the socket had no process yet (accept queue).
        elif check_pid and (t["pid"] not in g["pids"] or
                            g["pids"] - {t["pid"], None}):
            bad.append("%s pid %s != %d" % (name,
                                            sorted(map(str, g["pids"])),
                                            t["pid"]))
    for c in sorted(set(got) - set(want)):
        bad.append("cookie %d: rows for no workload socket (tx %d rx %d "
                   "%s)" % (c, got[c]["tx"], got[c]["rx"],
                            sorted(got[c]["tuples"])))
    if bad:
        raise AssertionError("%s%d of %d sides wrong: %s" %
                             (what, len(bad), len(truth), "; ".join(bad[:6])))


def missing_sessions(truth, rows):
    """Workload sockets no row names (by cookie)."""
    got = {r["cookie"] for r in rows}
    return sum(1 for c in truth_by_cookie(truth) if c not in got)


def check_rows_well_formed(rows):
    for r in rows:
        if set(r) != TOP_FIELDS:
            raise AssertionError("fields %s" % sorted(set(r) ^ TOP_FIELDS))
        if r["rx_bytes"] == 0 and r["tx_bytes"] == 0:
            raise AssertionError("row with no bytes: %s" % r)
        if r["family"] not in (4, 6):
            raise AssertionError("family %r" % r["family"])


# ---------------------------------------------------------------- poll mode

LONG_TX, LONG_RX, LONG_TX_STEP, LONG_RX_STEP = 3000, 5000, 7, 13


def long_lived(netns_c, netns_s, addr, family, conns=30, rounds=3,
               release=None):
    """Connections that move bytes over several polls and are still open
    when tcptop takes its last sample (poll mode sees no close): held
    until the path @release exists (bounded: 60 s), or for 3 s."""
    hold = ("--hold-ms", 60000, "--hold-until", release) if release else \
        ("--hold-ms", 3000)
    return ("--family", family, "--addr", addr, "--client-netns", netns_c,
            "--server-netns", netns_s, "--conns", conns, "--parallel", conns,
            "--rounds", rounds, "--round-gap-ms", 300, "--close", "mixed",
            "--tx-base", LONG_TX, "--rx-base", LONG_RX,
            "--tx-step", LONG_TX_STEP, "--rx-step", LONG_RX_STEP) + hold


class Release:
    """A path whose creation tells the workload to stop holding."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tcpsight-release-")
        self.path = os.path.join(self.dir, "go")

    def go(self):
        open(self.path, "w").close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.go()
        os.unlink(self.path)
        os.rmdir(self.dir)


def count_established(netns):
    out = sh("ss", "-Htn", "state", "established", netns=netns).stdout
    return len(out.splitlines())


def established_bytes(netns):
    """bytes_acked + bytes_received over the ESTABLISHED sockets."""
    out = sh("ss", "-Htin", "state", "established", netns=netns).stdout
    total = 0
    for field in out.split():
        k, _, v = field.partition(":")
        if k in ("bytes_acked", "bytes_received") and v.isdigit():
            total += int(v)
    return total


def wait_rounds_done(netnses, conns=30, rounds=3, timeout=60):
    """Waits until every round of long_lived() is over, sent and
    acknowledged: while the sockets are held open, both ends' counters
    add up to exactly what the workload moves (each payload byte is acked
    on one end and received on the other) plus one SYN per client."""
    steps = conns * (conns - 1) // 2
    tx = rounds * (conns * LONG_TX + LONG_TX_STEP * steps)
    rx = rounds * (conns * LONG_RX + LONG_RX_STEP * steps)
    want = 2 * (tx + rx) + conns
    deadline = time.time() + timeout
    got = 0
    while time.time() < deadline:
        got = sum(established_bytes(ns) for ns in netnses)
        if got >= want:
            return
        time.sleep(0.05)
    raise AssertionError("workload rounds not done after %ds: %d of %d "
                         "bytes" % (timeout, got, want))


def run_poll(hosts, addr, family):
    ta = Tool(hosts.a, "--mode", "poll", "0.4")
    tb = ta if hosts.a == hosts.b else Tool(hosts.b, "--mode", "poll", "0.4")
    with Release() as rel:
        proc = subprocess.Popen(
            [TCPLOAD] + [str(x) for x in long_lived(hosts.a, hosts.b, addr,
                                                      family,
                                                      release=rel.path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Held open until the tools have taken their last sample.
        try:
            wait_rounds_done({hosts.a, hosts.b})
        finally:
            ta.stop()
            if tb is not ta:
                tb.stop()
        rel.go()
        out, err = proc.communicate(timeout=60)
    if proc.returncode:
        raise AssertionError("tcpload: " + err[-300:])
    truth = [json.loads(l) for l in out.splitlines()]
    assert len(truth) == 60, "workload made %d sides" % len(truth)
    for t in (ta, tb):
        assert t.rc == 0, "tcptop exit %d: %s" % (t.rc, t.stderr)
        check_rows_well_formed(t.rows)
    check_exact(truth, {"client": ta.rows, "server": tb.rows})


def test_poll_loopback_v4():
    with Loopback("p4") as h:
        run_poll(h, "127.0.0.1", 4)


def test_poll_loopback_v6():
    with Loopback("p6") as h:
        run_poll(h, "::1", 6)


def test_poll_veth_v4():
    with Hosts("p4") as h:
        run_poll(h, "198.18.0.2", 4)


def test_poll_veth_v6():
    with Hosts("p6") as h:
        run_poll(h, "fd00::2", 6)


# ---------------------------------------------------------------- hybrid

def churn(netns_c, netns_s, addr, family, conns, close="mixed", parallel=8,
          tx_base=100, rx_base=200):
    return tcpload("--family", family, "--addr", addr,
                   "--client-netns", netns_c, "--server-netns", netns_s,
                   "--conns", conns, "--parallel", parallel,
                   "--close", close, "--tx-base", tx_base,
                   "--rx-base", rx_base)


def run_hybrid(hosts, addr, family, conns=1000, closes=("mixed",),
               loss=0, mode=()):
    if loss:
        hosts.drop_percent(loss)
    ta = Tool(hosts.a, *mode, "1")
    tb = ta if hosts.a == hosts.b else Tool(hosts.b, *mode, "1")
    truth = []
    try:
        # Long-lived sessions, closing mid-interval, beside the churn.
        longp = subprocess.Popen(
            [TCPLOAD, "--family", str(family), "--addr", addr,
             "--client-netns", hosts.a, "--server-netns", hosts.b,
             "--conns", "20", "--parallel", "20", "--rounds", "4",
             "--round-gap-ms", "450", "--close",
             "mixed" if not loss else "client", "--tx-base", "70000",
             "--rx-base", "90000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for close in closes:
            truth += churn(hosts.a, hosts.b, addr, family, conns, close)
        out, err = longp.communicate(timeout=120)
        if longp.returncode:
            raise AssertionError("tcpload long: " + err[-300:])
        truth += [json.loads(l) for l in out.splitlines()]
        wait_quiet(hosts.a)
        wait_quiet(hosts.b)
    finally:
        ta.stop()
        if tb is not ta:
            tb.stop()
    for t in (ta, tb):
        assert t.rc == 0, "tcptop exit %d: %s" % (t.rc, t.stderr)
        check_rows_well_formed(t.rows)
        lost = sum(r["lost"] for r in t.rows)
        assert lost == 0, "lost %d events" % lost
        assert "falling back" not in t.stderr, t.stderr
    check_exact(truth, {"client": ta.rows, "server": tb.rows})
    return truth, ta, tb


def test_hybrid_loopback_v4():
    with Loopback("h4") as h:
        truth, ta, _ = run_hybrid(h, "127.0.0.1", 4)
        closes = {t["close"] for t in truth}
        assert {"fin", "rst"} <= closes, closes
        closed = sum(1 for r in ta.rows if r["closed"])
        assert closed >= len(truth), "closed rows %d" % closed


def test_hybrid_loopback_v6():
    with Loopback("h6") as h:
        run_hybrid(h, "::1", 6, conns=500)


def test_hybrid_veth_v4():
    with Hosts("h4") as h:
        run_hybrid(h, "198.18.0.2", 4)


def test_hybrid_veth_v6():
    with Hosts("h6") as h:
        run_hybrid(h, "fd00::2", 6, conns=500)


def test_hybrid_veth_loss_v4():
    """3% of packets dropped: retransmissions, data in flight at close."""
    with Hosts("l4") as h:
        run_hybrid(h, "198.18.0.2", 4, conns=300, closes=("client", "server"),
                   loss=3)


def test_hybrid_veth_loss_v6():
    with Hosts("l6") as h:
        run_hybrid(h, "fd00::2", 6, conns=200, closes=("client", "server"),
                   loss=3)


def need_iter():
    """The BPF iterator source, where the kernel has iter/tcp."""
    p = subprocess.run([TCPTOP, "--source", "iter", "--netns", "self", "-C",
                        "-S", "0.05", "1"],
                       capture_output=True, text=True)
    if p.returncode:
        raise Skip("no iterator source here: " + p.stderr.strip()[:200])


ITER = ("--source", "iter")


def test_hybrid_iter_loopback_v4():
    """Polls by BPF iterator: only sockets that moved are listed."""
    need_iter()
    with Loopback("j4") as h:
        run_hybrid(h, "127.0.0.1", 4, mode=ITER)


def test_hybrid_iter_veth_v6():
    need_iter()
    with Hosts("j6") as h:
        run_hybrid(h, "fd00::2", 6, conns=500, mode=ITER)


def test_hybrid_iter_veth_loss_v4():
    need_iter()
    with Hosts("k4") as h:
        run_hybrid(h, "198.18.0.2", 4, conns=300, closes=("client", "server"),
                   loss=3, mode=ITER)


ATTACH_TYPES = ("fentry", "kprobe", "tracepoint")
_offered = {}


def attach_offered(attach):
    """Whether this kernel has an attach type: asks tcptop itself."""
    if attach not in _offered:
        need_root()
        p = subprocess.run([TCPTOP, "--mode", "trace", "--attach", attach,
                            "--json", "0.1", "1"], capture_output=True,
                           text=True, timeout=60)
        if p.returncode == 0:
            _offered[attach] = None
        elif p.returncode == 1 and "this kernel lacks" in p.stderr:
            _offered[attach] = p.stderr.strip()
        else:
            raise AssertionError("--attach %s: exit %d: %s" %
                                 (attach, p.returncode, p.stderr))
    return _offered[attach]


def trace_mode(attach):
    why = attach_offered(attach)
    if why:
        raise Skip("kernel %s: %s" % (os.uname().release, why))
    return ("--mode", "trace", "--attach", attach)


def trace_loopback_v4(attach):
    """Per-call accounting gives the same exact figures as hybrid."""
    with Loopback("t4") as h:
        run_hybrid(h, "127.0.0.1", 4, conns=500, mode=trace_mode(attach))


def trace_loopback_v6(attach):
    with Loopback("t6") as h:
        run_hybrid(h, "::1", 6, conns=500, mode=trace_mode(attach))


def trace_veth_v6(attach):
    with Hosts("t6") as h:
        run_hybrid(h, "fd00::2", 6, conns=300, mode=trace_mode(attach))


def trace_veth_loss_v4(attach):
    with Hosts("tl") as h:
        run_hybrid(h, "198.18.0.2", 4, conns=200, closes=("client",),
                   loss=3, mode=trace_mode(attach))


def trace_read_after_close_and_address_reuse(attach):
    """Bulk: the client reads the server's reply after its socket closed;
    then new sockets reuse freed addresses.  Every side exact, under its
    own tuple."""
    with Loopback("tb") as h:
        t = Tool(h.a, *trace_mode(attach), "1")
        truth = []
        try:
            for _ in range(3):
                truth += tcpload("--client-netns", h.a, "--server-netns",
                                 h.a, "--bulk", 300000, "--conns", 8,
                                 "--parallel", 4, "--close", "client")
            wait_quiet(h.a)
        finally:
            t.stop()
    assert t.rc == 0, t.stderr
    assert not [r for r in t.rows if r["lport"] == 0], "rows under port 0"
    check_exact(truth, {"client": t.rows, "server": t.rows})


# One test per attach type: each runs where the kernel has it and says
# which kernel lacks it where it does not.
for _case in (trace_loopback_v4, trace_loopback_v6, trace_veth_v6,
              trace_veth_loss_v4, trace_read_after_close_and_address_reuse):
    for _attach in ATTACH_TYPES:
        globals()["test_%s_%s" % (_case.__name__, _attach)] = \
            (lambda c, a: lambda: c(a))(_case, _attach)


def test_trace_attach_choice_here():
    """Every attach type runs here or is refused in one line naming what
    the kernel lacks; auto takes the best offered (fentry, kprobe, then the
    tracepoints).  TCPSIGHT_EXPECT_ATTACH (the kernel matrix sets it for
    Debian's kernels) lists types this kernel must offer: a probe that
    wrongly refuses them fails here instead of skipping their tests."""
    need_root()
    missing = {"fentry": "fentry/fexit", "kprobe": "kprobes",
               "tracepoint": "sock_send_length"}
    offered = []
    for attach in ATTACH_TYPES:
        p = subprocess.run([TCPTOP, "--mode", "trace", "--attach", attach,
                            "--stats", "--json", "0.1", "1"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode == 0:
            assert "attach %s " % attach in p.stderr, (attach, p.stderr)
            offered.append(attach)
            continue
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 1 and len(lines) == 1 and \
            missing[attach] in lines[0], (attach, p.returncode, p.stderr)
    expect = [a for a in os.environ.get("TCPSIGHT_EXPECT_ATTACH",
                                        "").split(",") if a]
    assert set(expect) <= set(offered), \
        "kernel %s offers %s, expected at least %s" % (
            os.uname().release, offered, expect)
    p = subprocess.run([TCPTOP, "--mode", "trace", "--stats", "--json",
                        "0.1", "1"], capture_output=True, text=True,
                       timeout=60)
    if not offered:
        assert p.returncode == 1 and "this kernel lacks" in p.stderr, \
            p.stderr
        return
    assert p.returncode == 0, p.stderr
    assert "attach %s " % offered[0] in p.stderr, (offered, p.stderr)


def test_trace_map_full_is_reported():
    with Loopback("tm") as h:
        t = Tool(h.a, "--mode", "trace", "--map-size", "16", "0.3")
        try:
            truth = tcpload("--client-netns", h.a, "--server-netns", h.a,
                            "--conns", 40, "--parallel", 40,
                            "--hold-ms", 800, "--close", "client")
            wait_quiet(h.a)
            time.sleep(0.4)
        finally:
            t.stop()
    assert t.rc == 0, t.stderr
    missing = missing_sessions(truth, t.rows)
    assert missing > 0, "map was not too small"
    assert "found the trace map full" in t.stderr, t.stderr


def test_hybrid_small_ring_counts_lost():
    """A ring far too small: every missing session is a counted loss."""
    with Loopback("sr") as h:
        # One long interval: no poll happens while the churn runs, so a
        # session is either in a close event or missing.
        t = Tool(h.a, "--ring-size", "4096", "30")
        try:
            truth = churn(h.a, h.a, "127.0.0.1", 4, 600, "client")
            wait_quiet(h.a)
        finally:
            t.stop()
    assert t.rc == 0, t.stderr
    missing = missing_sessions(truth, t.rows)
    lost = sum(r["lost"] for r in t.rows)
    assert missing > 0, "ring was not too small"
    # "lost" repeats on every row of an interval: count it once.
    lost_once = max(r["lost"] for r in t.rows)
    assert lost_once == missing, "lost %d != missing %d" % (lost_once, missing)
    assert "lost %d close events" % missing in t.stderr, t.stderr
    del lost


def bpf_ids():
    out = {}
    for kind in ("prog", "map", "link"):
        p = sh("bpftool", "-j", kind, "show")
        out[kind] = {o["id"] for o in json.loads(p.stdout or "[]")}
    return out


def held_bpf_ids(pid):
    """The BPF objects a process holds, from its fds' fdinfo."""
    out = {"prog": set(), "map": set(), "link": set()}
    fddir = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fddir):
        try:
            with open(os.path.join(fddir, fd)) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("prog_id", "map_id", "link_id"):
                        out[k[:-3]].add(int(v))
        except OSError:
            pass
    return out


def test_hybrid_start_stop_leaves_nothing():
    """100 starts and stops: every BPF object a run held is gone after it
    (objects are told apart by id: other tools on the machine may load
    theirs meanwhile)."""
    need_root()
    ours = {"prog": set(), "map": set(), "link": set()}
    ready = tempfile.mktemp(prefix="tcpsight-ready-")
    for i in range(100):
        p = subprocess.Popen([TCPTOP, "--ready-file", ready, "--json",
                              "0.01"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        while not os.path.exists(ready):
            assert p.poll() is None and time.time() < deadline, \
                "run %d did not start: %s" % (i, p.stderr.read())
            time.sleep(0.01)
        os.unlink(ready)
        held = held_bpf_ids(p.pid)
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=30)[1]
        assert p.returncode == 0, err
        assert "falling back" not in err, err
        assert held["prog"] and held["map"], "run %d held %s" % (i, held)
        for kind in ours:
            ours[kind] |= held[kind]
    # Maps are freed from a workqueue after the last reference goes.
    deadline = time.time() + 10
    left = None
    while time.time() < deadline:
        now = bpf_ids()
        left = {k: sorted(ours[k] & now[k]) for k in ours if ours[k] & now[k]}
        if not left:
            return
        time.sleep(0.2)
    raise AssertionError("objects of stopped runs still loaded: %s" % left)


def test_hybrid_falls_back_without_privilege():
    need_root()
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", TCPTOP, "--json", "0.1", "1"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "falling back to --mode poll" in lines[0], \
        p.stderr


# ---------------------------------------------------------------- tcplife

LIFE_FIELDS = {"ts", "pid", "comm", "family", "laddr", "lport", "raddr",
               "rport", "tx_bytes", "rx_bytes", "duration_ms", "start_ts",
               "cookie", "netns", "cgroup"}


# Clock slack between the tool (monotonic converted to wall time) and the
# workload (wall time).
CLOCK_SLACK = 0.05


def lifetime_wrong(r, t, run_start, run_end):
    """Why a line's lifetime cannot be this socket's, or None.  Only the
    order of events is checked, never how long they took (a slow machine
    or an emulated CPU stretches accept queues and FIN exchanges):
    born after the run began (a client inside its connect call), before
    the workload was done with it; closed after it began, before now."""
    if r["start_ts"] is None or r["duration_ms"] is None or \
            r["duration_ms"] < 0:
        return "lifetime %s/%s" % (r["start_ts"], r["duration_ms"])
    born = r["start_ts"]
    closed = born + r["duration_ms"] / 1000.0
    earliest = t["start_ts"] if t["role"] == "client" else run_start
    if not earliest - CLOCK_SLACK <= born <= t["end_ts"] + CLOCK_SLACK:
        return "born %.3f outside %.3f..%.3f" % (born, earliest, t["end_ts"])
    if not t["start_ts"] - CLOCK_SLACK <= closed <= run_end + CLOCK_SLACK:
        return "closed %.3f outside %.3f..%.3f" % (closed, t["start_ts"],
                                                   run_end)
    return None


def check_life(truth, rows_by_role, born_before=False):
    """One line per socket (by cookie), exact bytes, owner, its own tuple
    and a plausible lifetime."""
    bad = []
    by = {}
    for side in distinct_lists(rows_by_role):
        for r in side:
            if set(r) != LIFE_FIELDS:
                raise AssertionError("fields %s" % sorted(set(r) ^ LIFE_FIELDS))
            if r["cookie"] in by:
                raise AssertionError("two lines for cookie %d: %s, %s" %
                                     (r["cookie"], by[r["cookie"]], r))
            by[r["cookie"]] = r
    want = truth_by_cookie(truth)
    run_start = min(t["start_ts"] for t in truth)
    run_end = time.time()
    for c, t in want.items():
        r = by.get(c)
        name = side_name(t)
        if r is None:
            bad.append(name + " missing")
        elif key(r["laddr"], r["lport"], r["raddr"], r["rport"]) != \
                key(t["laddr"], t["lport"], t["raddr"], t["rport"]):
            bad.append("%s under %s:%s" % (name, r["laddr"], r["lport"]))
        elif (r["tx_bytes"], r["rx_bytes"]) != (t["tx"], t["rx"]):
            bad.append("%s tx %d/%d rx %d/%d" % (name, r["tx_bytes"],
                                                 t["tx"], r["rx_bytes"],
                                                 t["rx"]))
        elif r["pid"] != t["pid"]:
            bad.append("%s pid %s != %d" % (name, r["pid"], t["pid"]))
        elif born_before:
            if r["duration_ms"] is not None or r["start_ts"] is not None:
                bad.append(name + " has a duration but predates the tool")
        else:
            why = lifetime_wrong(r, t, run_start, run_end)
            if why:
                bad.append("%s %s" % (name, why))
    for c in sorted(set(by) - set(want)):
        bad.append("cookie %d: a line for no workload socket (%s:%s)" %
                   (c, by[c]["laddr"], by[c]["lport"]))
    if bad:
        raise AssertionError("%d of %d wrong: %s" % (len(bad), len(truth),
                                                     "; ".join(bad[:6])))


def run_life(hosts, addr, family, conns=300, extra=()):
    ta = Tool(hosts.a, *extra, prog=TCPLIFE)
    tb = ta if hosts.a == hosts.b else Tool(hosts.b, *extra, prog=TCPLIFE)
    try:
        truth = churn(hosts.a, hosts.b, addr, family, conns, "mixed")
        truth += tcpload("--family", family, "--addr", addr,
                         "--client-netns", hosts.a, "--server-netns",
                         hosts.b, "--conns", 10, "--parallel", 10,
                         "--rounds", 3, "--round-gap-ms", 300,
                         "--close", "mixed", "--tx-base", 50000,
                         "--rx-base", 70000)
        wait_quiet(hosts.a)
        wait_quiet(hosts.b)
    finally:
        ta.stop()
        if tb is not ta:
            tb.stop()
    for t in (ta, tb):
        assert t.rc == 0, "tcplife exit %d: %s" % (t.rc, t.stderr)
    return truth, ta, tb


def test_life_loopback_v4():
    with Loopback("f4") as h:
        truth, ta, _ = run_life(h, "127.0.0.1", 4)
        check_life(truth, {"client": ta.rows, "server": ta.rows})


def test_life_loopback_v6():
    with Loopback("f6") as h:
        truth, ta, _ = run_life(h, "::1", 6)
        check_life(truth, {"client": ta.rows, "server": ta.rows})


def test_life_veth_v4():
    with Hosts("f4") as h:
        truth, ta, tb = run_life(h, "198.18.0.2", 4)
        check_life(truth, {"client": ta.rows, "server": tb.rows})


def test_life_veth_v6():
    with Hosts("f6") as h:
        truth, ta, tb = run_life(h, "fd00::2", 6)
        check_life(truth, {"client": ta.rows, "server": tb.rows})


def test_life_born_before_start():
    """Sessions alive before tcplife: printed, exact, duration unknown."""
    with Loopback("fb") as h, Release() as rel:
        proc = subprocess.Popen(
            [TCPLOAD, "--client-netns", h.a, "--server-netns", h.a,
             "--conns", "20", "--parallel", "20", "--hold-ms", "60000",
             "--hold-until", rel.path,
             "--close", "mixed", "--tx-base", "4000", "--rx-base", "6000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Every socket born (both ends established) before tcplife starts.
        deadline = time.time() + 60
        while count_established(h.a) < 40:
            assert proc.poll() is None and time.time() < deadline, \
                "workload did not connect"
            time.sleep(0.05)
        t = Tool(h.a, prog=TCPLIFE)
        rel.go()
        out, err = proc.communicate(timeout=60)
        wait_quiet(h.a)
        t.stop()
    assert proc.returncode == 0, err
    truth = [json.loads(l) for l in out.splitlines()]
    check_life(truth, {"client": t.rows, "server": t.rows}, born_before=True)


def test_life_filters_in_kernel():
    """Port, family and PID filters: each shown to include and exclude."""
    with Loopback("fk") as h:
        port = 47000
        others = 47100
        # A full list (1024 ports, the wanted one last): one bitmap test.
        many = ",".join(str(p) for p in range(1, 1024)) + ",%d" % port
        tl = Tool(h.a, "-L", many, prog=TCPLIFE)
        tr = Tool(h.a, "-D", many, prog=TCPLIFE)
        t6 = Tool(h.a, "-6", prog=TCPLIFE)
        t4 = Tool(h.a, "-4", prog=TCPLIFE)
        try:
            truth = tcpload("--client-netns", h.a, "--server-netns", h.a,
                            "--port", port, "--conns", 30, "--parallel", 4,
                            "--close", "mixed")
            truth += tcpload("--client-netns", h.a, "--server-netns", h.a,
                             "--port", others, "--conns", 20,
                             "--parallel", 4, "--close", "mixed")
            wait_quiet(h.a)
        finally:
            for t in (tl, tr, t6, t4):
                t.stop()
    n_port = sum(1 for t in truth if t["rport"] == port or
                 t["lport"] == port)
    assert {r["lport"] for r in tl.rows} == {port} and \
        len(tl.rows) == 30, "-L: %d rows" % len(tl.rows)
    assert {r["rport"] for r in tr.rows} == {port} and \
        len(tr.rows) == 30, "-D: %d rows" % len(tr.rows)
    assert len(t4.rows) == len(truth) == 100, "-4: %d" % len(t4.rows)
    assert len(t6.rows) == 0, "-6 printed IPv4 sessions"
    assert n_port == 60


def test_life_filter_pid():
    with Loopback("fp") as h:
        # A server that is already up: its PID is known before the run.
        srv = subprocess.Popen(
            ["ip", "netns", "exec", h.a, "python3", "-c",
             "import socket,sys\n"
             "s=socket.socket(); s.bind(('127.0.0.1',48000)); s.listen()\n"
             "print('up', flush=True)\n"
             "for i in range(10):\n"
             "    c,_=s.accept(); d=c.recv(100); c.sendall(b'z'*(100+i));"
             " c.close()\n"],
            stdout=subprocess.PIPE, text=True)
        assert srv.stdout.readline().strip() == "up"
        t = Tool(h.a, "-p", str(srv.pid), prog=TCPLIFE)
        try:
            for i in range(10):
                sh("python3", "-c",
                   "import socket; s=socket.create_connection(("
                   "'127.0.0.1',48000)); s.sendall(b'q'*50);"
                   "d=b''\nwhile True:\n x=s.recv(999)\n if not x: break\n"
                   " d+=x\ns.close()", netns=h.a)
            srv.wait(timeout=20)
            wait_quiet(h.a)
        finally:
            t.stop()
    # ip netns exec execs python in place: the PID is the server's.
    assert len(t.rows) == 10, "rows %d" % len(t.rows)
    assert {r["pid"] for r in t.rows} == {srv.pid}
    assert sorted(r["tx_bytes"] for r in t.rows) == list(range(100, 110))
    assert all(r["rx_bytes"] == 50 for r in t.rows)


def test_life_csv_and_table():
    import csv
    import io
    with Loopback("fc") as h:
        tc = Tool(h.a, "-s", "-T", prog=TCPLIFE, json_out=False)
        tw = Tool(h.a, "-w", "-t", prog=TCPLIFE, json_out=False)
        try:
            truth = churn(h.a, h.a, "127.0.0.1", 4, 20, "mixed")
            wait_quiet(h.a)
        finally:
            tc.stop()
            tw.stop()
    rows = list(csv.DictReader(io.StringIO(tc.stdout)))
    assert list(rows[0].keys()) == ["TIME", "PID", "COMM", "IP", "LADDR",
                                    "LPORT", "RADDR", "RPORT", "TX_B",
                                    "RX_B", "MS"], list(rows[0].keys())
    # CSV has no cookie column: compare as multisets (a reused 4-tuple is
    # two entries, not a collision).
    got = sorted((key(r["LADDR"], r["LPORT"], r["RADDR"], r["RPORT"]),
                  int(r["TX_B"]), int(r["RX_B"]), int(r["PID"]))
                 for r in rows)
    want = sorted((key(t["laddr"], t["lport"], t["raddr"], t["rport"]),
                   t["tx"], t["rx"], t["pid"]) for t in truth)
    assert got == want, [x for x in got if x not in want][:3] + \
        [x for x in want if x not in got][:3]
    lines = tw.stdout.splitlines()
    assert lines[0].split() == ["TIME(s)", "PID", "COMM", "IP", "LADDR",
                                "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB",
                                "MS"], lines[0]
    assert len(lines) == 1 + len(truth)


# ---------------------------------------------------------------- CLI

def test_bad_options_exit_2():
    bad = [["-p", "abc"], ["-r", "-1"], ["0"], ["-1"], ["abc"],
           ["--mode", "nope"], ["1", "0"], ["-s", "x"], ["--bogus"],
           ["1", "2", "3"], ["--ring-size", "12"], ["-p"],
           ["--attach", "uprobe"], ["--map-size", "0"]]
    for args in bad:
        p = subprocess.run([TCPTOP] + args, capture_output=True, text=True,
                           timeout=10)
        assert p.returncode == 2, "%s: exit %d" % (args, p.returncode)
        first = p.stderr.splitlines()[0]
        assert first.startswith("tcptop: "), "%s: %r" % (args, first)
        assert p.stdout == "", args


def test_tcplife_bad_options_exit_2():
    bad = [["-L", "70000"], ["-L", "0"], ["-D", "x"], ["-p", "abc"],
           ["-p", "-5"], ["-L", ",".join(map(str, range(1, 1026)))],
           ["-D", "1,123456"], ["-s", "--json"],
           ["--ring-size", "100"], ["--bogus"], ["extra"], ["-L"],
           ["-L", "80,"]]
    for args in bad:
        p = subprocess.run([TCPLIFE] + args, capture_output=True, text=True,
                           timeout=10)
        assert p.returncode == 2, "%s: exit %d" % (args, p.returncode)
        first = p.stderr.splitlines()[0]
        assert first.startswith("tcplife: "), "%s: %r" % (args, first)
        assert p.stdout == "", args


def test_table_output():
    with Loopback("tb") as h:
        t = Tool(h.a, "-C", "0.5", json_out=False)
        try:
            churn(h.a, h.a, "127.0.0.1", 4, 5, "client", tx_base=5000)
            wait_quiet(h.a)
        finally:
            t.stop()
    out, err = t.stdout, t.stderr
    assert t.rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[1] == "loadavg:", lines[0]
    assert lines[1] == ""
    hdr = [l for l in lines if l.startswith("PID")]
    assert hdr and hdr[0].split() == ["PID", "COMM", "LADDR", "RADDR",
                                      "RX_KB", "TX_KB"], hdr


TMUX_SOCKET = "tcpsight%d" % os.getpid()


def tmux(*args, check=True):
    """A tmux server of our own, so nobody else's sessions mix in."""
    return sh("tmux", "-L", TMUX_SOCKET, *args, check=check)


def test_top_screen_fits_terminal():
    """tcptop in a real terminal (tmux) of several sizes, more sessions
    than rows: the loadavg line stays on top, the summary line is seen,
    nothing scrolls."""
    need_root()
    if not shutil_which("tmux"):
        raise Skip("tmux not installed")
    sizes = ((100, 12), (80, 24), (200, 50))
    with Loopback("sc") as h:
        load = subprocess.Popen(
            [TCPLOAD] + [str(x) for x in long_lived(h.a, h.a, "127.0.0.1", 4,
                                                      conns=40, rounds=80)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for cols, rows in sizes:
                tmux("new-session", "-d", "-s", "s%d" % rows, "-x",
                     str(cols), "-y", str(rows),
                     "ip netns exec %s %s 0.3" % (h.a, TCPTOP))
            for cols, rows in sizes:
                screen_check("s%d" % rows, cols, rows)
        finally:
            tmux("kill-server", check=False)
            load.kill()
            load.communicate()


def screen_check(name, cols, rows):
    deadline = time.time() + 20
    while True:
        lines = tmux("capture-pane", "-p", "-t", name).stdout.split("\n")
        # A whole frame: drawn from the top down to the summary line.
        if any(l.startswith("-- ") for l in lines) and \
                sum(1 for l in lines if " 127.0.0.1:" in l) >= \
                min(rows - 6, 20):
            break
        if time.time() > deadline:
            raise AssertionError("%dx%d: no full frame: %r" %
                                 (cols, rows, lines))
        time.sleep(0.05)
    assert len(lines) <= rows + 1, lines
    assert lines[0].split()[1:2] == ["loadavg:"], \
        "%dx%d: top line %r" % (cols, rows, lines[0])
    summary = [i for i, l in enumerate(lines) if l.startswith("-- ")]
    assert summary and summary[0] <= rows - 1, (cols, rows, lines)


# ---------------------------------------------------------------- faults

def test_no_btf_one_clear_line():
    env = dict(os.environ, TCPSIGHT_BTF="/nonexistent/vmlinux")
    p = subprocess.run([TCPTOP, "--json", "0.1", "1"], env=env,
                       capture_output=True, text=True, timeout=30)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 0 and len(lines) == 1 and \
        "no BTF" in lines[0] and "falling back" in lines[0], p.stderr
    for cmd in ([TCPLIFE], [TCPTOP, "--mode", "trace", "0.1", "1"]):
        p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                           timeout=30)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 1 and len(lines) == 1 and \
            "no BTF" in lines[0], (cmd, p.returncode, p.stderr)


def test_broken_pipe_is_quiet():
    need_root()
    with Loopback("bp") as h:
        for tool in ([TCPTOP, "-C", "0.3"], [TCPLIFE]):
            p = subprocess.Popen("ip netns exec %s %s | head -1" %
                                 (h.a, " ".join(tool)), shell=True,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            time.sleep(1.0)
            # Lines to write into the closed pipe.
            churn(h.a, h.a, "127.0.0.1", 4, 20, "client")
            try:
                out, err = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                # Leave nothing behind: the whole pipeline goes.
                subprocess.run(["pkill", "-f", tool[0] + "$"], check=False)
                p.kill()
                raise
            assert out.count("\n") == 1, (tool, out)
            assert err == "", (tool, err)


def test_signals_end_cleanly():
    with Loopback("sg") as h:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            for prog in (TCPTOP, TCPLIFE):
                t = Tool(h.a, prog=prog)
                t.proc.send_signal(sig)
                t.stop()
                assert t.rc == 0, (prog, sig, t.rc, t.stderr)


def test_poll_mode_unprivileged_user():
    """sock_diag needs no privilege: exact bytes as nobody; owners of
    other users' sockets stay unknown (no /proc/PID/fd access)."""
    need_root()
    with Loopback("up") as h:
        # nobody writes its ready file into a directory of its own.
        rdir = tempfile.mkdtemp(prefix="tcptop-ready-")
        os.chmod(rdir, 0o777)
        ready = os.path.join(rdir, "ready")
        outf = tempfile.TemporaryFile(mode="w+")
        tool = subprocess.Popen(
            ["ip", "netns", "exec", h.a, "setpriv", "--reuid=65534",
             "--regid=65534", "--clear-groups", TCPTOP, "--mode", "poll",
             "--ready-file", ready, "--json", "0.3"], stdout=outf,
            stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        while not os.path.exists(ready):
            assert tool.poll() is None and time.time() < deadline, \
                "tcptop did not start"
            time.sleep(0.02)
        os.unlink(ready)
        os.rmdir(rdir)
        with Release() as rel:
            proc = subprocess.Popen(
                [TCPLOAD] + [str(x) for x in long_lived(
                    h.a, h.a, "127.0.0.1", 4, conns=10, release=rel.path)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                wait_rounds_done({h.a}, conns=10)
            finally:
                tool.send_signal(signal.SIGINT)
                err = tool.communicate(timeout=30)[1]
            rel.go()
            out = proc.communicate(timeout=60)[0]
    assert tool.returncode == 0, err
    assert err == "", err
    outf.seek(0)
    rows = [json.loads(l) for l in outf.read().splitlines()]
    truth = [json.loads(l) for l in out.splitlines()]
    check_exact(truth, {"client": rows, "server": rows}, check_pid=False)
    assert all(r["pid"] is None for r in rows), "owners of root's sockets"


def test_least_privilege_per_mode():
    """Each mode with exactly the capabilities the README lists."""
    need_root()
    caps = {"poll": None, "hybrid": "+bpf,+perfmon",
            "trace": "+bpf,+perfmon"}
    for mode, cap in caps.items():
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        if cap:
            cmd += ["--inh-caps=" + cap, "--ambient-caps=" + cap]
        p = subprocess.run(cmd + [TCPTOP, "--mode", mode, "--json", "0.1",
                                  "1"], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, (mode, p.stderr)
        assert "falling back" not in p.stderr, (mode, p.stderr)
    # tcplife: the same two capabilities.
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
           "--inh-caps=+bpf,+perfmon", "--ambient-caps=+bpf,+perfmon",
           TCPLIFE]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and out.startswith("PID"), (out, err)
    # One capability short: hybrid falls back, trace and tcplife refuse.
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", "--inh-caps=+bpf",
                        "--ambient-caps=+bpf", TCPTOP, "--mode", "trace",
                        "0.1", "1"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1 and len(p.stderr.splitlines()) == 1, p.stderr


def test_valgrind_poll_mode_clean():
    need_root()
    if not shutil_which("valgrind"):
        raise Skip("valgrind not installed")
    with Loopback("vg") as h:
        vg = subprocess.Popen(
            ["ip", "netns", "exec", h.a, "valgrind", "--error-exitcode=3",
             "--leak-check=full", "--errors-for-leak-kinds=definite",
             TCPTOP, "--mode", "poll", "--json", "0.5", "4"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        tcpload(*long_lived(h.a, h.a, "127.0.0.1", 4, conns=5, rounds=2))
        out, err = vg.communicate(timeout=120)
    assert vg.returncode == 0, err[-800:]
    assert "definitely lost: 0 bytes" in err or \
        "All heap blocks were freed" in err, err[-800:]


def shutil_which(name):
    import shutil
    return shutil.which(name)


# ---------------------------------------------------------------- runner

def main(scope=None):
    """Runs the test_* functions of @scope (this module's by default)."""
    want = sys.argv[1:]
    tests = [(n, f) for n, f in sorted((scope or globals()).items())
             if n.startswith("test_") and callable(f)]
    if not os.access(TCPLOAD, os.X_OK) or not os.access(TCPTOP, os.X_OK):
        print("not ok build: tcptop or bench/tcpload missing (run make)")
        return 1
    return run_cases(tests, want)


def run_cases(tests, want):
    """Runs (name, fn) cases whose name holds one of @want (all if none)."""
    failed = ran = 0
    for name, fn in tests:
        if want and not any(w in name for w in want):
            continue
        ran += 1
        t0 = time.time()
        try:
            fn()
            print("ok %s (%.1fs)" % (name, time.time() - t0), flush=True)
        except Skip as e:
            print("skip %s: %s" % (name, e), flush=True)
        except Exception as e:
            failed += 1
            msg = str(e) or traceback.format_exc().splitlines()[-1]
            print("not ok %s: %s" % (name, msg.replace("\n", " ")),
                  flush=True)
            if os.environ.get("VERBOSE"):
                traceback.print_exc()
    if not ran:
        print("skip %s: no test matches %s" % (
            os.path.basename(sys.argv[0]), " ".join(want)), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
