#!/usr/bin/env python3
"""tcpsightd against the real parts: a Prometheus server scraping it, the
zstd CLI reading its archive, a full tmpfs, signals, an installed tree.

Ground truth comes from the workload (bench/tcpload), as in
test_integration.py, whose helpers this reuses.  Output: one line per case,
"ok NAME" / "not ok NAME: why" / "skip NAME: why".
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_integration as ti  # noqa: E402
from test_integration import (Loopback, Skip, check_exact, churn,  # noqa: E402
                              need_root, sh, tcpload, wait_quiet)

ROOT = ti.ROOT
TCPSIGHTD = os.path.abspath(os.path.join(ti.BIN, "tcpsightd"))
UNIT = os.path.join(ROOT, "dist", "tcpsightd.service")
# Ports inside the test's own network namespace: nobody else is there.
DAEMON_PORT = 9630
PROM_PORT = 9090
LOAD_PORT = 47300


def http_get(netns, url, accept=None, check=True):
    """GET inside @netns (the daemon listens on its loopback)."""
    cmd = ["curl", "-sS", "--max-time", "10"]
    if accept:
        cmd += ["-H", "Accept: " + accept]
    p = sh(*cmd, url, netns=netns, check=False)
    if check and p.returncode:
        raise AssertionError("GET %s: %s" % (url, p.stderr.strip()))
    return p.stdout


def parse_exposition(text):
    """{(name, frozenset(labels)): value} of the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m:
            raise AssertionError("bad exposition line %r" % line)
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"',
                                      m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(expo, name):
    return sum(v for (n, _), v in expo.items() if n == name)


WORKLOAD_PORTS = '{port=~"%d|%d"}' % (LOAD_PORT, LOAD_PORT + 1)


def workload_bytes(expo, by=("direction", "role")):
    """tcpsight_bytes_total of the workload's server ports, summed by @by.
    (By port, not comm: a session still in the accept queue at a poll has
    no owner yet, so some of its bytes count under comm="".)"""
    out = {}
    for (name, labels), v in expo.items():
        lab = dict(labels)
        if name != "tcpsight_bytes_total" or \
                lab.get("port") not in (str(LOAD_PORT), str(LOAD_PORT + 1)):
            continue
        if lab["comm"] not in ("tcpload", ""):
            raise AssertionError("workload bytes under comm %r" %
                                 lab["comm"])
        k = tuple(lab[b] for b in by)
        out[k] = out.get(k, 0) + int(v)
    return out


def truth_bytes(truth):
    want = {}
    for t in truth:
        for direction in ("tx", "rx"):
            k = (direction, t["role"])
            want[k] = want.get(k, 0) + t[direction]
    return want


class Daemon:
    """tcpsightd in a namespace; ready once serving with its baseline."""

    def __init__(self, netns, *args, listen=True, outside=False):
        """@outside: run in this namespace watching @netns (--netns), so
        /sys keeps its cgroup2 mount (ip netns exec remounts /sys); it
        listens on this host's loopback, on a port of its own."""
        self.netns = None if outside else netns
        self.ready = tempfile.mktemp(prefix="tcpsightd-ready-")
        port = DAEMON_PORT
        cmd = ["ip", "netns", "exec", netns]
        if outside:
            port = 20000 + os.getpid() % 20000
            cmd = []
            args = ("--netns", "/run/netns/" + netns) + args
        cmd += [TCPSIGHTD, "--ready-file", self.ready] + list(args)
        if listen:
            cmd += ["--listen", "127.0.0.1:%d" % port]
        self.url = "http://127.0.0.1:%d/metrics" % port
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        # A loaded machine takes its time loading BPF: a bound, not a sleep.
        deadline = time.time() + 90
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise AssertionError("tcpsightd did not start: " +
                                     self.stderr)
            time.sleep(0.02)
        os.unlink(self.ready)

    def metrics(self, accept=None):
        return http_get(self.netns, self.url, accept)

    def expo(self):
        return parse_exposition(self.metrics())

    def after_polls(self, n, timeout=60):
        """The exposition once @n more polls are done (a ready signal)."""
        want = metric(self.expo(), "tcpsight_polls_total") + n
        deadline = time.time() + timeout
        while True:
            expo = self.expo()
            if metric(expo, "tcpsight_polls_total") >= want:
                return expo
            if time.time() > deadline:
                raise AssertionError("no poll for %ds" % timeout)
            time.sleep(0.05)

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.rc = self.proc.wait()
        self.err.seek(0)
        self.stderr = self.err.read()
        return self

    @property
    def stderr_now(self):
        self.err.seek(0)
        return self.err.read()


class Prometheus:
    """A real Prometheus server in @netns scraping the daemon each second."""

    def __init__(self, netns):
        if not shutil.which("prometheus"):
            raise Skip("prometheus not installed")
        self.netns = netns
        self.dir = tempfile.mkdtemp(prefix="tcpsight-prom-")
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: tcpsightd\n"
                    "    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % DAEMON_PORT)
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, "prometheus",
             "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % PROM_PORT],
            stdout=self.log, stderr=self.log)
        self.base = "http://127.0.0.1:%d" % PROM_PORT
        deadline = time.time() + 60
        while "Ready" not in http_get(netns, self.base + "/-/ready",
                                      check=False):
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise AssertionError("prometheus did not start: " +
                                     self.output()[-500:])
            time.sleep(0.1)

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def query(self, expr):
        out = http_get(self.netns, self.base + "/api/v1/query?query=" +
                       _quote(expr))
        res = json.loads(out)
        if res.get("status") != "success":
            raise AssertionError("query %s: %s" % (expr, out[:300]))
        return res["data"]["result"]

    def wait_value(self, expr, at_least, timeout=60):
        deadline = time.time() + timeout
        while True:
            r = self.query(expr)
            if r and float(r[0]["value"][1]) >= at_least:
                return
            if time.time() > deadline:
                raise AssertionError("%s stayed below %s: %s" %
                                     (expr, at_least, r))
            time.sleep(0.2)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _quote(s):
    import urllib.parse
    return urllib.parse.quote(s, safe="")


def mixed_workload(netns, rounds=4, between=None):
    """Short sessions of every close kind plus long-lived ones over polls;
    @between runs after each batch of short ones."""
    longp = subprocess.Popen(
        [ti.TCPLOAD, "--client-netns", netns, "--server-netns", netns,
         "--port", str(LOAD_PORT + 1), "--conns", "20", "--parallel", "20",
         "--rounds", str(rounds), "--round-gap-ms", "300", "--close",
         "mixed", "--tx-base", "70000", "--rx-base", "90000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    truth = []
    for _ in range(1 if between is None else 3):
        truth += tcpload("--client-netns", netns, "--server-netns", netns,
                         "--port", LOAD_PORT, "--conns", 500,
                         "--parallel", 8, "--close", "mixed",
                         "--tx-base", 100, "--rx-base", 200)
        if between:
            between()
    out, err = longp.communicate(timeout=120)
    if longp.returncode:
        raise AssertionError("tcpload long: " + err[-300:])
    truth += [json.loads(l) for l in out.splitlines()]
    wait_quiet(netns)
    return truth


# ---------------------------------------------------------------- metrics

def test_prometheus_scrapes_exact_bytes():
    need_root()
    with Loopback("pm") as h:
        d = Daemon(h.a, "--interval", "0.5")
        prom = None
        try:
            prom = Prometheus(h.a)
            truth = mixed_workload(h.a)
            expo = d.after_polls(2)
            polls = metric(expo, "tcpsight_polls_total")
            text = d.metrics()
            om = d.metrics("application/openmetrics-text;version=1.0.0")
            # Prometheus has scraped at least that far.
            prom.wait_value("tcpsight_polls_total", polls)
            got = {}
            for r in prom.query('sum by (direction, role) '
                                '(tcpsight_bytes_total%s)' % WORKLOAD_PORTS):
                got[(r["metric"]["direction"], r["metric"]["role"])] = \
                    int(float(r["value"][1]))
            ports = {r["metric"]["port"] for r in prom.query(
                'tcpsight_bytes_total{comm="tcpload"}')}
            comms = {r["metric"]["comm"] for r in prom.query(
                'tcpsight_bytes_total%s' % WORKLOAD_PORTS)}
            scrapes = prom.query('up{job="tcpsightd"}')
        finally:
            if prom:
                prom.close()
            d.stop()
    assert d.rc == 0, (d.rc, d.stderr)
    want = truth_bytes(truth)
    assert workload_bytes(expo) == want, \
        "daemon %s != truth %s" % (workload_bytes(expo), want)
    assert got == want, "prometheus %s != truth %s" % (got, want)
    # Servers' ports, both roles (the listener is local); nothing else.
    assert ports == {str(LOAD_PORT), str(LOAD_PORT + 1)}, ports
    assert "tcpload" in comms and comms <= {"tcpload", ""}, comms
    assert scrapes and scrapes[0]["value"][1] == "1", scrapes
    opened = metric(expo, "tcpsight_sessions_opened_total")
    closed = metric(expo, "tcpsight_sessions_closed_total")
    assert opened >= len(truth) and closed >= len(truth), (opened, closed)
    assert metric(expo, "tcpsight_close_events_lost_total") == 0
    assert metric(expo, "tcpsight_interval_seconds") == 0.5
    assert om.endswith("# EOF\n") and "# TYPE tcpsight_bytes counter" in om
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


def test_metrics_cgroup_label_is_path():
    """The cgroup label is the socket's cgroup v2 path, from the engine's
    cgroup cache: every byte of a workload run inside one cgroup is
    counted under its path."""
    need_root()
    from test_netns import TAG, Cgroup
    with Loopback("cg") as h, Cgroup("tsd%dcg" % TAG) as cg:
        d = Daemon(h.a, "--interval", "0.5", outside=True)
        try:
            p = cg.popen([ti.TCPLOAD, "--client-netns", h.a, "--server-netns",
                          h.a, "--port", LOAD_PORT, "--conns", 200,
                          "--parallel", 8, "--close", "mixed",
                          "--tx-base", 100, "--rx-base", 200])
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err[-300:]
            truth = [json.loads(line) for line in out.splitlines()]
            wait_quiet(h.a)
            expo = d.after_polls(2)
        finally:
            d.stop()
    assert d.rc == 0, (d.rc, d.stderr)
    cgroups = {dict(lab)["cgroup"] for (n, lab), _ in expo.items()
               if n == "tcpsight_bytes_total" and
               dict(lab).get("port") == str(LOAD_PORT)}
    assert cgroups == {cg.rel}, (cgroups, cg.rel)
    got = workload_bytes(expo)
    assert got == truth_bytes(truth), (got, truth_bytes(truth))


def test_max_cpu_lengthens_interval():
    """A budget the hash walk alone exceeds: the interval grows (doubling
    per poll), and the metrics show it."""
    need_root()
    with Loopback("mc") as h:
        d = Daemon(h.a, "--interval", "0.1", "--max-cpu", "0.01")
        try:
            # A walk of the established hash costs >= 0.2 ms: >= 2 s here.
            deadline = time.time() + 30
            while True:
                expo = d.expo()
                if metric(expo, "tcpsight_interval_seconds") >= 1.0:
                    break
                assert time.time() < deadline, \
                    "interval stayed at %s" % \
                    metric(expo, "tcpsight_interval_seconds")
                time.sleep(0.05)
        finally:
            d.stop()
    assert d.rc == 0, d.stderr
    assert metric(expo, "tcpsight_poll_cpu_seconds_total") > 0


def test_series_cap_folds():
    need_root()
    with Loopback("sf") as h:
        d = Daemon(h.a, "--interval", "0.3", "--max-series", "1")
        try:
            truth = churn(h.a, h.a, "127.0.0.1", 4, 50, "client")
            wait_quiet(h.a)
            expo = d.after_polls(2)
        finally:
            d.stop()
    assert d.rc == 0, d.stderr
    assert metric(expo, "tcpsight_series") == 1
    assert metric(expo, "tcpsight_series_folded_total") > 0
    total = sum(t["tx"] + t["rx"] for t in truth)
    # All bytes still counted: the workload's and the scrapes' (curl).
    assert metric(expo, "tcpsight_bytes_total") >= total


# ---------------------------------------------------------------- archive

def read_archive(d, stream):
    """Every record of @stream's files, each file checked by the zstd CLI."""
    rows = []
    files = sorted(glob.glob(os.path.join(d, stream + "-*.jsonl.zst")))
    for f in files:
        p = subprocess.run(["zstd", "-dc", f], capture_output=True,
                           timeout=60)
        if p.returncode:
            raise AssertionError("%s: %s" % (f, p.stderr.decode()))
        text = p.stdout.decode()
        if text and not text.endswith("\n"):
            raise AssertionError("%s ends inside a record" % f)
        rows += [json.loads(l) for l in text.splitlines()]
    return files, rows


def check_lives(truth, lives):
    """One life record per socket, exact, with its owner.  A 4-tuple can
    come back within a run (a reset frees its port at once): its sockets
    are compared as a group (count, byte sums, owners)."""
    for r in lives:
        if set(r) != ti.LIFE_FIELDS:
            raise AssertionError("fields %s" % sorted(set(r) ^ ti.LIFE_FIELDS))

    def groups(items, tx, rx, pid):
        out = {}
        for x in items:
            k = ti.key(x["laddr"], x["lport"], x["raddr"], x["rport"])
            g = out.setdefault(k, [0, 0, 0, set()])
            g[0] += 1
            g[1] += x[tx]
            g[2] += x[rx]
            g[3].add(x[pid])
        return out
    want = groups(truth, "tx", "rx", "pid")
    got = groups(lives, "tx_bytes", "rx_bytes", "pid")
    bad = ["%s: %s != %s" % (k, got.get(k), w) for k, w in want.items()
           if got.get(k) != w]
    if bad or len(lives) != len(truth):
        raise AssertionError("%d of %d wrong, %d records: %s" %
                             (len(bad), len(want), len(lives),
                              "; ".join(bad[:4])))


def test_jsonl_exact_across_rotations_and_sighup():
    need_root()
    if not shutil.which("zstd"):
        raise Skip("zstd CLI not installed")
    arch = tempfile.mkdtemp(prefix="tcpsight-jsonl-")
    try:
        with Loopback("jl") as h:
            d = Daemon(h.a, "--interval", "0.2", "--jsonl", arch,
                       "--jsonl-max-bytes", "1024", listen=False)
            try:
                # Rotations (by size) and reopens (SIGHUP) while it runs.
                truth = mixed_workload(
                    h.a, rounds=10, between=lambda: d.send(signal.SIGHUP))
            finally:
                d.stop()
        assert d.rc == 0, (d.rc, d.stderr)
        assert d.stderr == "", d.stderr
        assert not glob.glob(os.path.join(arch, ".*")), \
            "temporary files left: %s" % os.listdir(arch)
        ifiles, rows = read_archive(arch, "intervals")
        sfiles, lives = read_archive(arch, "sessions")
        # Size rotations (intervals), reopens (both; two SIGHUPs may fall
        # in one interval, so not one file each).
        assert len(ifiles) >= 3 and len(sfiles) >= 2, (len(ifiles),
                                                        len(sfiles))
        for r in rows:
            assert set(r) >= ti.TOP_FIELDS, sorted(set(r) ^ ti.TOP_FIELDS)
        check_exact(truth, {"client": rows, "server": rows})
        # One record per closed session, exact, every one counted.
        check_lives(truth, lives)
    finally:
        shutil.rmtree(arch, ignore_errors=True)


def test_jsonl_disk_full_then_resumes():
    need_root()
    if not shutil.which("zstd"):
        raise Skip("zstd CLI not installed")
    mnt = tempfile.mkdtemp(prefix="tcpsight-full-")
    sh("mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tcpsight-full",
       mnt)
    try:
        with Loopback("df") as h:
            d = Daemon(h.a, "--interval", "0.2", "--jsonl", mnt)
            try:
                filler = os.path.join(mnt, "filler")
                sh("dd", "if=/dev/zero", "of=" + filler, "bs=4k",
                   check=False)
                churn(h.a, h.a, "127.0.0.1", 4, 200, "client")
                wait_quiet(h.a)
                full = d.after_polls(2)
                err_full = d.stderr_now
                os.unlink(filler)
                truth = churn(h.a, h.a, "127.0.0.1", 4, 100, "mixed")
                wait_quiet(h.a)
                after = d.after_polls(2)
                err_after = d.stderr_now
            finally:
                d.stop()
        assert d.rc == 0, (d.rc, d.stderr)
        assert metric(full, "tcpsight_jsonl_records_dropped_total") >= 400
        assert metric(full, "tcpsight_jsonl_write_errors_total") > 0
        failing = [l for l in err_full.splitlines() if "cannot write" in l]
        assert 1 <= len(failing) <= 2 and \
            len(failing) == len(set(failing)), err_full
        assert "again" in err_after, err_after
        # No torn frame anywhere; what was written is whole and exact.
        _, rows = read_archive(mnt, "intervals")
        _, lives = read_archive(mnt, "sessions")
        written = metric(after, "tcpsight_jsonl_records_total")
        assert len(rows) + len(lives) >= written, (len(rows), len(lives),
                                                   written)
        # The scrapes that waited for polls are sessions too: not the load's.
        rows = [r for r in rows if DAEMON_PORT not in (r["lport"], r["rport"])]
        check_exact(truth, {"client": rows, "server": rows})
        new = {(l["lport"], l["rport"]) for l in lives}
        assert all((t["lport"], t["rport"]) in new for t in truth)
    finally:
        sh("umount", mnt, check=False)
        os.rmdir(mnt)


# ---------------------------------------------------------------- process

def test_daemon_bad_options_exit_2():
    bad = [[], ["--listen", "1.2.3.4"], ["--listen", "x:80"],
           ["--listen", "127.0.0.1:0"], ["--jsonl"], ["--interval", "0"],
           ["--listen", "127.0.0.1:1", "--max-cpu", "101"],
           ["--listen", "127.0.0.1:1", "--max-cpu", "0"],
           ["--listen", "127.0.0.1:1", "--ports", "80,"],
           ["--listen", "127.0.0.1:1", "--max-series", "0"],
           ["--listen", "127.0.0.1:1", "--mode", "trace"],
           ["--listen", "127.0.0.1:1", "--json"],
           ["--listen", "127.0.0.1:1", "extra"], ["--bogus"]]
    for args in bad:
        p = subprocess.run([TCPSIGHTD] + args, capture_output=True,
                           text=True, timeout=10)
        assert p.returncode == 2, "%s: exit %d" % (args, p.returncode)
        first = p.stderr.splitlines()[0]
        assert first.startswith("tcpsightd: "), "%s: %r" % (args, first)
    p = subprocess.run([TCPSIGHTD, "--jsonl", "/nonexistent/dir"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1 and len(p.stderr.splitlines()) == 1, p.stderr


def test_daemon_valgrind_clean():
    """Poll mode (valgrind cannot run BPF loads usefully): HTTP thread,
    archive and rotation, SIGHUP, SIGTERM; no error, nothing lost."""
    need_root()
    if not shutil.which("valgrind"):
        raise Skip("valgrind not installed")
    arch = tempfile.mkdtemp(prefix="tcpsight-vg-")
    try:
        with Loopback("vg") as h:
            ready = tempfile.mktemp(prefix="tcpsightd-ready-")
            err = tempfile.TemporaryFile(mode="w+")
            vg = subprocess.Popen(
                ["ip", "netns", "exec", h.a, "valgrind", "--error-exitcode=3",
                 "--leak-check=full", "--errors-for-leak-kinds=definite",
                 TCPSIGHTD, "--mode", "poll", "--interval", "0.3",
                 "--listen", "127.0.0.1:%d" % DAEMON_PORT, "--jsonl", arch,
                 "--jsonl-max-bytes", "512", "--ready-file", ready],
                stderr=err)
            deadline = time.time() + 60
            while not os.path.exists(ready):
                assert vg.poll() is None and time.time() < deadline, \
                    "tcpsightd under valgrind did not start"
                time.sleep(0.05)
            os.unlink(ready)
            url = "http://127.0.0.1:%d/metrics" % DAEMON_PORT
            tcpload(*ti.long_lived(h.a, h.a, "127.0.0.1", 4, conns=5,
                                   rounds=2))
            vg.send_signal(signal.SIGHUP)
            http_get(h.a, url)
            http_get(h.a, url, "application/openmetrics-text")
            vg.send_signal(signal.SIGTERM)
            rc = vg.wait(timeout=120)
            err.seek(0)
            out = err.read()
        assert rc == 0, out[-800:]
        assert "definitely lost: 0 bytes" in out or \
            "All heap blocks were freed" in out, out[-800:]
        assert glob.glob(os.path.join(arch, "intervals-*")), "no archive"
    finally:
        shutil.rmtree(arch, ignore_errors=True)


def test_daemon_signals():
    """SIGHUP keeps it running; SIGTERM and SIGINT end it with 0."""
    need_root()
    with Loopback("ds") as h:
        for sig in (signal.SIGTERM, signal.SIGINT):
            d = Daemon(h.a, "--interval", "0.2")
            d.send(signal.SIGHUP)
            d.after_polls(1)
            assert d.proc.poll() is None, "SIGHUP ended it"
            d.stop(sig)
            assert d.rc == 0, (sig, d.rc, d.stderr)


def test_make_install_tree_runs():
    dest = install_tree()
    try:
        sbin = os.path.join(dest, "usr/local/sbin")
        for tool in ("tcptop", "tcplife", "tcpsightd"):
            assert os.access(os.path.join(sbin, tool), os.X_OK), tool
            man = os.path.join(dest, "usr/local/share/man/man8",
                               tool + ".8")
            q = subprocess.run([os.path.join(sbin, tool), "-h"],
                               capture_output=True, text=True, timeout=10)
            assert q.returncode == 0 and q.stdout.startswith("usage: " +
                                                            tool), q
            if shutil.which("man"):
                q = subprocess.run(["man", "--warnings", "-l", man],
                                   capture_output=True, text=True,
                                   timeout=30, env=dict(os.environ,
                                                        MANWIDTH="80"))
                assert q.returncode == 0 and q.stderr == "" and \
                    "OVERHEAD" in q.stdout, q.stderr
            else:
                assert os.path.exists(man), man
        examples = glob.glob(os.path.join(
            dest, "usr/local/share/doc/tcpsight/examples/*_example.txt"))
        assert len(examples) >= 3, examples
        assert "ExecStart=/usr/local/sbin/tcpsightd " in unit_text(dest)
        # In a namespace of its own: the host's sockets are others' load.
        with Loopback("in") as h:
            q = sh(os.path.join(sbin, "tcptop"), "--mode", "poll", "--json",
                   "0.1", "1", netns=h.a, check=False, timeout=60)
        assert q.returncode == 0, q.stderr
        if os.geteuid() == 0:
            q = subprocess.run([os.path.join(sbin, "tcpsightd"), "--listen",
                                "127.0.0.1:1", "--mode", "poll",
                                "--interval", "0.1", "--bogus"],
                               capture_output=True, text=True, timeout=30)
            assert q.returncode == 2, q.stderr
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def install_tree():
    dest = tempfile.mkdtemp(prefix="tcpsight-dest-")
    p = subprocess.run(["make", "-s", "-C", ROOT, "install",
                        "DESTDIR=" + dest, "PREFIX=/usr/local"],
                       capture_output=True, text=True, timeout=600)
    if p.returncode:
        shutil.rmtree(dest, ignore_errors=True)
        raise AssertionError("make install: " + p.stderr[-500:])
    return dest


def unit_text(dest):
    with open(os.path.join(dest, "usr/local/lib/systemd/system/"
                           "tcpsightd.service")) as f:
        return f.read()


def test_unit_verifies():
    """systemd-analyze verify on the installed unit, pointed at the
    installed tree (its binary and man page)."""
    if not shutil.which("systemd-analyze"):
        raise Skip("systemd-analyze not installed")
    dest = install_tree()
    try:
        sbin = os.path.join(dest, "usr/local/sbin")
        unit = os.path.join(dest, "tcpsightd.service")
        with open(unit, "w") as f:
            f.write(unit_text(dest).replace("/usr/local/sbin/", sbin + "/"))
        env = dict(os.environ,
                   MANPATH=os.path.join(dest, "usr/local/share/man"))
        p = subprocess.run(["systemd-analyze", "verify", unit], env=env,
                           capture_output=True, text=True, timeout=60)
        out = (p.stdout + p.stderr).strip()
        assert p.returncode == 0 and out == "", out
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def unit_caps(text):
    line = [l for l in text.splitlines()
            if l.startswith("CapabilityBoundingSet=")][0]
    return [c[len("CAP_"):].lower() for c in line.split("=", 1)[1].split()]


def test_unit_capabilities_suffice():
    """uid 0 with exactly the unit's capabilities: the probe loads (no
    fallback, accept hooks in), and owners of another user's sockets
    that predate the daemon come from /proc.  Without CAP_SYS_PTRACE, or
    without CAP_DAC_READ_SEARCH, those owners stay unknown."""
    need_root()
    dest = install_tree()
    try:
        caps = unit_caps(unit_text(dest))
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    assert sorted(caps) == ["bpf", "dac_read_search", "net_admin",
                            "perfmon", "sys_ptrace"], caps
    with Loopback("cp") as h:
        srv = subprocess.Popen(
            ["ip", "netns", "exec", h.a, "setpriv", "--reuid=65534",
             "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
             "import socket,sys\n"
             "s=socket.socket(); s.bind(('127.0.0.1',48200)); s.listen()\n"
             "c=socket.create_connection(('127.0.0.1',48200))\n"
             "a,_=s.accept(); print('up', flush=True)\n"
             "while sys.stdin.readline():\n"
             "    c.send(b'x'*100); a.recv(1000); print('ok', flush=True)\n"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout.readline().strip() == "up"
            got = {}
            for name, have in (
                    ("all", caps),
                    ("no ptrace", ["bpf", "perfmon", "dac_read_search",
                                   "net_admin"]),
                    ("no dac", ["bpf", "perfmon", "sys_ptrace",
                                "net_admin"])):
                got[name] = owners_with_caps(h.a, have, srv)
        finally:
            srv.stdin.close()
            srv.wait(timeout=30)
    assert got["all"][0] == "", got["all"][0]
    assert got["all"][1] == {"python3"}, got["all"]
    assert got["no ptrace"][1] == {""}, got["no ptrace"]
    assert got["no dac"][1] == {""}, got["no dac"]


def owners_with_caps(netns, caps, srv):
    """(stderr, comms of port 48200's bytes) of a daemon with @caps."""
    want = ",".join("+" + c for c in caps)
    ready = tempfile.mktemp(prefix="tcpsightd-ready-")
    # tracefs and cgroup2 in the private mount namespace ip-netns-exec
    # makes (gone with it), as a host that mounts them at boot has them.
    script = ("mount -t tracefs nodev /sys/kernel/tracing && "
              "mount -t cgroup2 nodev /sys/fs/cgroup && exec setpriv "
              "--bounding-set=-all,%s --inh-caps=-all,%s "
              "--ambient-caps=-all,%s %s --listen 127.0.0.1:%d "
              "--interval 0.2 --ready-file %s" %
              (want, want, want, TCPSIGHTD, DAEMON_PORT, ready))
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(["ip", "netns", "exec", netns, "sh", "-c",
                             script], stderr=err)
    try:
        deadline = time.time() + 90
        while not os.path.exists(ready):
            assert proc.poll() is None and time.time() < deadline, \
                "tcpsightd with %s did not start" % want
            time.sleep(0.02)
        os.unlink(ready)
        url = "http://127.0.0.1:%d/metrics" % DAEMON_PORT
        before = metric(parse_exposition(http_get(netns, url)),
                        "tcpsight_polls_total")
        srv.stdin.write("go\n")
        srv.stdin.flush()
        assert srv.stdout.readline().strip() == "ok"
        while True:
            expo = parse_exposition(http_get(netns, url))
            if metric(expo, "tcpsight_polls_total") >= before + 2:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    err.seek(0)
    comms = {dict(l)["comm"] for (n, l) in expo
             if n == "tcpsight_bytes_total" and dict(l)["port"] == "48200"}
    return err.read(), comms


def main():
    want = sys.argv[1:]
    tests = [(n, f) for n, f in sorted(globals().items())
             if n.startswith("test_") and callable(f)]
    if not os.access(TCPSIGHTD, os.X_OK) or not os.access(ti.TCPLOAD,
                                                          os.X_OK):
        print("not ok build: tcpsightd or bench/tcpload missing (run make)")
        return 1
    return ti.run_cases(tests, want)


if __name__ == "__main__":
    sys.exit(main())
