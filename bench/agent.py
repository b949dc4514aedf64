#!/usr/bin/env python3
"""Agent benchmark: `cairn agent` against rsyslog's imfile, tailing the same files in one run.

1. Data, BEFORE any timing (in a temp dir): two sets of --files files, --total-mb each:
   * "single": single-line mixed lines from bench/generate_logs.py (nginx access lines, one-line
     JSON application logs, syslog lines, lines of /work/shared/data/loghub);
   * "nginx": nginx access lines only (combined format plus request time, upstream and host
     fields), parsed with a regex by Cairn (processor_parse_regex_native, 15 keys) and by rsyslog's
     mmnormalize (a liblognorm rule with the same 15 fields).
   Lines come from a pool of --pool-mb distinct lines per set; each file starts at its own place
   in the pool and cycles through it.
2. Throughput, one reader at a time over the same files (page cache warm):
   * cairn agent --no-control --null-sink --pipeline (FromBeginning): agent CPU and wall until
     every file's checkpoint (<data_dir>/checkpoints/checkpoints.json) stands at the file's size;
   * the same into a real `cairn serve` (fresh data dir, project + logstore created with the
     operator AccessKey, which agent.toml also uses): agent CPU and server CPU separately, then a
     count check (GetHistograms over the whole range == lines);
   * rsyslogd (a private instance: -n -f <own conf> -i <own pidfile>, own workDirectory)
     with imfile (inotify, freshStartTail off) into omfile (template "%msg%\\n", a file on the
     same disk): rsyslogd CPU and wall until the output file holds every line.
   CPU is utime+stime of the process (all threads) from /proc/<pid>/stat, start to completion.
3. Steady load: a writer process appends single-line data at --rate-mb MB/s for --seconds s to
   a file the tailer watches (each tailer alone, with an identical load, on a fresh file);
   samples CPU% (delta of utime+stime over wall) and RSS (VmRSS, VmHWM) every second.
4. Prints markdown tables (throughput, ratios, steady load) and the targets met or missed.

  bench/run-agent                                    # build, venv, rsyslog, 1 GB per set
  SKIP_BUILD=1 bench/run-agent --total-mb 256 --seconds 15
  python bench/agent.py --help
"""

import argparse
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generate_logs import LogGenerator  # noqa: E402
from ingest import DEFAULT_BIN, Server, git_rev, proc_cpu_seconds, sdk_client, verify_count  # noqa: E402

PROJECT = "bench-agent"
LOGSTORE = "lines"
MB = 1e6

# The nginx line format written by nginx_line(); the regex and the mmnormalize rule below both
# take it apart into the same 15 fields.
NGINX_KEYS = ["remote_addr", "remote_user", "time_local", "request_method", "request_uri",
              "server_protocol", "status", "body_bytes_sent", "http_referer", "http_user_agent",
              "request_time", "upstream_response_time", "upstream_addr", "host", "hostname"]
NGINX_REGEX = (r'(\S+) - (\S+) \[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d+) (\d+) "([^"]*)" "([^"]*)" '
               r'(\S+) (\S+) (\S+) (\S+) (\S+)')
NGINX_RULEBASE = (
    "version=2\n"
    "rule=:%remote_addr:word% - %remote_user:word% [%time_local:char-to{\"extradata\":\"]\"}%] "
    "\"%request_method:word% %request_uri:word% %server_protocol:char-to{\"extradata\":\"\\\"\"}%\" "
    "%status:number% %body_bytes_sent:number% "
    "\"%http_referer:char-to{\"extradata\":\"\\\"\"}%\" \"%http_user_agent:char-to{\"extradata\":\"\\\"\"}%\" "
    "%request_time:word% %upstream_response_time:word% %upstream_addr:word% %host:word% %hostname:rest%\n"
)


# ---------------------------------------------------------------------------------------------
# Data

def nginx_line(rec):
    f = dict(rec)
    return ('%s - %s [%s] "%s %s %s" %s %s "%s" "%s" %s %s %s %s %s' % (
        f["remote_addr"], f["remote_user"], f["time_local"], f["request_method"], f["request_uri"],
        f["server_protocol"], f["status"], f["body_bytes_sent"], f["http_referer"], f["http_user_agent"],
        f["request_time"], f["upstream_response_time"], f["upstream_addr"], f["host"], f["hostname"]))


def record_line(rec):
    keys = [k for k, _ in rec]
    if keys and keys[0] == "remote_addr":
        return nginx_line(rec)
    if keys and keys[0] == "level":
        return json.dumps(dict(rec), ensure_ascii=False, separators=(",", ":"))
    return dict(rec)["content"]  # syslog and loghub lines


def build_pool(kind, pool_bytes, seed, base_time):
    """Distinct lines (bytes, each ending in "\\n") of about pool_bytes."""
    mix = (("nginx", 1.0),) if kind == "nginx" else None
    gen = LogGenerator(seed=seed, base_time=base_time, **({"mix": mix} if mix else {}))
    lines = []
    size = 0
    while size < pool_bytes:
        for _, rec in gen.records(4096):
            line = (record_line(rec).replace("\n", " ") + "\n").encode("utf-8")
            lines.append(line)
            size += len(line)
    return lines


def write_files(directory, prefix, pool, n_files, total_bytes):
    """n_files files of about total_bytes / n_files each, cycling through the pool from a
    different start each. Returns [(path, size, lines)]."""
    os.makedirs(directory, exist_ok=True)
    per_file = total_bytes // n_files
    out = []
    for i in range(n_files):
        path = os.path.join(directory, "%s-%d.log" % (prefix, i))
        pos = (i * len(pool)) // n_files
        size = lines = 0
        buf = []
        buf_size = 0
        with open(path, "wb") as f:
            while size < per_file:
                line = pool[pos]
                pos = (pos + 1) % len(pool)
                buf.append(line)
                buf_size += len(line)
                size += len(line)
                lines += 1
                if buf_size >= 1 << 22:
                    f.write(b"".join(buf))
                    buf, buf_size = [], 0
            f.write(b"".join(buf))
        out.append((path, size, lines))
    return out


# ---------------------------------------------------------------------------------------------
# Processes

def proc_status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid):
    return proc_status_kb(pid, "VmRSS") / 1024.0


def hwm_mb(pid):
    return proc_status_kb(pid, "VmHWM") / 1024.0


def stop_process(proc, timeout=60):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tail_text(path, n=30):
    try:
        with open(path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
    except OSError:
        return ""


PERF_RECORD = ["perf", "record", "--call-graph", "dwarf,16384", "-F", "499"]


def perf_path(a, name):
    if not a.perf_dir:
        return None
    os.makedirs(a.perf_dir, exist_ok=True)
    return os.path.join(a.perf_dir, name + ".perf.data")


class Perf(object):
    """perf record -p PID (rsyslogd) while a run is measured (--perf-dir); off by default.
    (The Cairn agent is started under perf instead, see CairnAgent.start: attaching to a running
    tokio process misses threads it starts later.)"""

    def __init__(self, path, pid):
        self.proc = None
        if not path:
            return
        self.proc = subprocess.Popen(PERF_RECORD + ["-p", str(pid), "-o", path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait()


class CairnAgent(object):
    """A `cairn agent --no-control` over one local pipeline, in its own directory."""

    def __init__(self, binary, work, name, globs, parse, poll_ms, endpoint=None, credentials=None):
        self.dir = os.path.join(work, name)
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(os.path.join(self.dir, "etc"), exist_ok=True)
        self.null_sink = endpoint is None
        ak_id, ak_secret = (credentials["accessKeyId"], credentials["accessKeySecret"]) if credentials \
            else ("bench", "bench")
        with open(os.path.join(self.dir, "agent.toml"), "w") as f:
            f.write('endpoint = "%s"\naccess_key_id = "%s"\naccess_key_secret = "%s"\nconfig_dir = "%s"\n'
                    'data_dir = "%s"\nhostname = "bench-host"\nip = "127.0.0.1"\n'
                    % (("http://" + endpoint) if endpoint else "http://127.0.0.1:9", ak_id, ak_secret,
                       os.path.join(self.dir, "etc"), self.data_dir))
        pipeline = {
            "inputs": [{"Type": "input_file", "FilePaths": globs, "FromBeginning": True}],
            "flushers": [{"Type": "flusher_sls", "Project": PROJECT, "Logstore": LOGSTORE}],
        }
        if parse:
            pipeline["processors"] = [{"Type": "processor_parse_regex_native", "SourceKey": "content",
                                       "Regex": NGINX_REGEX, "Keys": NGINX_KEYS}]
        self.pipeline_path = os.path.join(self.dir, "bench.json")
        with open(self.pipeline_path, "w") as f:
            json.dump(pipeline, f, indent=1)
        self.cmd = [binary, "agent", "--config", os.path.join(self.dir, "agent.toml"), "--pipeline",
                    self.pipeline_path, "--no-control", "--poll-interval-ms", str(poll_ms)]
        if self.null_sink:
            self.cmd.append("--null-sink")
        self.log_path = os.path.join(self.dir, "agent.log")
        self.proc = None

    def start(self, perf_data=None):
        """Starts the agent (under `perf record` when perf_data is a path); returns its pid."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_AGENT_")}
        env.pop("CAIRN_USER_DEFINED_ID", None)
        self._log = open(self.log_path, "wb")
        cmd = (PERF_RECORD + ["-o", perf_data, "--"] + self.cmd) if perf_data else self.cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._log,
                                     stdin=subprocess.DEVNULL, env=env)
        self.pid = self.proc.pid
        if perf_data:  # the agent is perf's child
            children = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
            deadline = time.time() + 30
            while time.time() < deadline:
                with open(children) as f:
                    kids = f.read().split()
                if kids:
                    self.pid = int(kids[0])
                    break
                time.sleep(0.01)
            else:
                raise SystemExit("perf did not start the agent")
        return self.pid

    def offsets(self):
        """{path: acknowledged offset} from the checkpoint table (durable: written by delivery
        after each batch is acknowledged)."""
        try:
            with open(os.path.join(self.data_dir, "checkpoints", "checkpoints.json")) as f:
                table = json.load(f)
        except (OSError, ValueError):
            return {}
        out = {}
        for cp in table.get("checkpoints", []):
            out[cp["path"]] = max(out.get(cp["path"], 0), cp["offset"])
        return out

    def consumed(self, files):
        """Bytes acknowledged over `files` [(path, size)], capped at their sizes."""
        offs = self.offsets()
        return sum(min(offs.get(path, 0), size) for path, size in files)

    def check_alive(self):
        if self.proc.poll() is not None:
            raise SystemExit("cairn agent exited with %s:\n%s" % (self.proc.returncode, tail_text(self.log_path)))

    def stop(self):
        if self.pid != self.proc.pid and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)  # perf exits with its child
        stop_process(self.proc)
        self._log.close()

    def metrics(self):
        try:
            with open(os.path.join(self.data_dir, "metrics.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}


class Rsyslog(object):
    """A private rsyslogd: imfile (inotify) -> [mmnormalize] -> omfile, all in its own directory."""

    def __init__(self, work, name, glob, parse, mode="inotify"):
        self.dir = os.path.join(work, name)
        self.workdir = os.path.join(self.dir, "work")
        os.makedirs(self.workdir, exist_ok=True)
        self.out_path = os.path.join(self.dir, "out.log")
        self.fail_path = os.path.join(self.dir, "parse-failed.log")
        self.conf_path = os.path.join(self.dir, "rsyslog.conf")
        self.pid_path = os.path.join(self.dir, "rsyslogd.pid")
        self.log_path = os.path.join(self.dir, "rsyslogd.log")
        rules = []
        modules = ['module(load="imfile" mode="%s")' % mode]
        if parse:
            rb = os.path.join(self.dir, "nginx.rb")
            with open(rb, "w") as f:
                f.write(NGINX_RULEBASE)
            modules.append('module(load="mmnormalize")')
            rules.append('  action(type="mmnormalize" rulebase="%s")' % rb)
            rules.append('  if $parsesuccess == "FAIL" then {\n    action(type="omfile" file="%s" '
                         'template="bench_raw")\n  }' % self.fail_path)
        rules.append('  action(type="omfile" file="%s" template="bench_raw")' % self.out_path)
        conf = "\n".join([
            'global(workDirectory="%s" maxMessageSize="64k")' % self.workdir,
            "\n".join(modules),
            'template(name="bench_raw" type="string" string="%msg%\\n")',
            'ruleset(name="bench") {',
            "\n".join(rules),
            "}",
            'input(type="imfile" File="%s" Tag="bench" ruleset="bench" freshStartTail="off" addMetadata="off")'
            % glob,
            "",
        ])
        with open(self.conf_path, "w") as f:
            f.write(conf)
        self.proc = None
        self._count = 0
        self._read = 0

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", self.conf_path, "-i", self.pid_path],
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self.proc.pid

    def lines_out(self):
        """Lines in the output file so far (counted incrementally)."""
        try:
            with open(self.out_path, "rb") as f:
                f.seek(self._read)
                while True:
                    chunk = f.read(1 << 22)
                    if not chunk:
                        break
                    self._count += chunk.count(b"\n")
                    self._read += len(chunk)
        except FileNotFoundError:
            pass
        return self._count

    def parse_failures(self):
        try:
            with open(self.fail_path, "rb") as f:
                return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        except FileNotFoundError:
            return 0

    def check_alive(self):
        if self.proc.poll() is not None:
            raise SystemExit("rsyslogd exited with %s:\n%s" % (self.proc.returncode, tail_text(self.log_path)))

    def stop(self):
        stop_process(self.proc)
        self._log.close()


def start_server(binary, work, shards):
    server = Server(binary, work)
    server.start()
    client = sdk_client(server)
    client.create_project(PROJECT, "agent benchmark")
    client.create_logstore(PROJECT, LOGSTORE, ttl=30, shard_count=shards)
    return server, client


# ---------------------------------------------------------------------------------------------
# 2. Throughput

def unique_name(work, name):
    """name, or name-2, name-3 ... when --repeat ran it before (each run starts from scratch)."""
    n, out = 1, name
    while os.path.exists(os.path.join(work, out)):
        n += 1
        out = "%s-%d" % (name, n)
    return out


def wait_until(done, alive, timeout, interval=0.05):
    deadline = time.time() + timeout
    while not done():
        alive()
        if time.time() > deadline:
            return False
        time.sleep(interval)
    return True


def agent_check(m, lines, nbytes):
    """The agent's own counters (metrics.json, final snapshot) against what the files hold."""
    problems = []
    if m.get("bytes_read") != nbytes:
        problems.append("bytes read %s of %d" % (m.get("bytes_read"), nbytes))
    for key, what in (("records_read", "records read"), ("records_delivered", "delivered")):
        if m.get(key) != lines:
            problems.append("%s %+d vs lines" % (what, (m.get(key) or 0) - lines))
    drops = sum(d[1]["records"] + d[1]["events"] for d in m.get("dropped", []))
    if drops:
        problems.append("%d counted drops" % drops)
    return "ok" if not problems else ", ".join(problems)


def run_cairn_throughput(a, work, files, parse, sink):
    name = unique_name(work, "cairn-%s-%s" % (sink, "regex" if parse else "single"))
    paths = [(p, s) for p, s, _ in files]
    total_bytes = sum(s for _, s, _ in files)
    total_lines = sum(n for _, _, n in files)
    globs = sorted({os.path.join(os.path.dirname(p), "*.log") for p, _ in paths})
    server = client = None
    if sink == "server":
        server, client = start_server(a.bin, work, a.shards)
    try:
        agent = CairnAgent(a.bin, work, name, globs, parse, a.poll_interval_ms,
                           endpoint=server.endpoint if server else None,
                           credentials=server.credentials if server else None)
        base_time = int(time.time())
        s_cpu0 = proc_cpu_seconds(server.proc.pid) if server else 0.0
        t0 = time.time()
        pid = agent.start(perf_path(a, name))
        ok = wait_until(lambda: agent.consumed(paths) >= total_bytes, agent.check_alive, a.timeout)
        wall = time.time() - t0
        cpu = proc_cpu_seconds(pid)
        s_cpu = (proc_cpu_seconds(server.proc.pid) - s_cpu0) if server else float("nan")
        peak = hwm_mb(pid)
        s_peak = hwm_mb(server.proc.pid) if server else float("nan")
        if not ok:
            raise SystemExit("%s: not done after %ds: %d of %d bytes acknowledged\n%s"
                             % (name, a.timeout, agent.consumed(paths), total_bytes, tail_text(agent.log_path)))
        agent.stop()
        check = agent_check(agent.metrics(), total_lines, total_bytes)
        if client is not None:
            got = verify_count(client, PROJECT, LOGSTORE, base_time - 60, total_lines, timeout=30)
            check += "; server count " + got
    finally:
        if server:
            server.stop()
            server.cleanup()
    return dict(reader="Cairn", sink="null sink" if sink == "null" else "cairn serve",
                parse="regex" if parse else "none", mb=total_bytes / MB, lines=total_lines, wall=wall,
                cpu=cpu, peak_rss=peak, server_cpu=s_cpu, server_peak_rss=s_peak, check=check)


def run_rsyslog_throughput(a, work, files, parse):
    name = unique_name(work, "rsyslog-%s" % ("regex" if parse else "single"))
    total_bytes = sum(s for _, s, _ in files)
    total_lines = sum(n for _, _, n in files)
    glob = os.path.join(os.path.dirname(files[0][0]), "*.log")
    rs = Rsyslog(work, name, glob, parse, a.rsyslog_mode)
    t0 = time.time()
    pid = rs.start()
    perf = Perf(perf_path(a, name), pid)
    try:
        ok = wait_until(lambda: rs.lines_out() >= total_lines, rs.check_alive, a.timeout)
        wall = time.time() - t0
        cpu = proc_cpu_seconds(pid)
        perf.stop()
        peak = hwm_mb(pid)
        if not ok:
            raise SystemExit("%s: not done after %ds: %d of %d lines out\n%s"
                             % (name, a.timeout, rs.lines_out(), total_lines, tail_text(rs.log_path)))
    finally:
        rs.stop()
    time.sleep(0.2)
    n = rs.lines_out()
    check = "ok" if n == total_lines else "out %d/%d lines" % (n, total_lines)
    if parse:
        failed = rs.parse_failures()
        if failed:
            check += "; %d parse failures" % failed
    if not a.keep:
        os.unlink(rs.out_path)
    return dict(reader="rsyslog", sink="omfile", parse="mmnormalize" if parse else "none",
                mb=total_bytes / MB, lines=total_lines, wall=wall, cpu=cpu, peak_rss=peak,
                server_cpu=float("nan"), server_peak_rss=float("nan"), check=check)


# ---------------------------------------------------------------------------------------------
# 3. Steady load

POOL = []


def writer_main(path, rate, seconds, tick, started, result):
    """Appends POOL lines to `path` at `rate` bytes/s for `seconds` (whole lines, one write per
    tick). Puts (bytes, lines, start, end) on `result`."""
    data = b"".join(POOL)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    pos = written = lines = 0
    start = time.time()
    started.set()
    next_tick = start
    while True:
        now = time.time()
        elapsed = now - start
        if elapsed >= seconds:
            break
        due = int(min(elapsed + tick, seconds) * rate) - written
        if due > 0:
            end = data.find(b"\n", pos + due - 1)
            if end < 0:
                chunk = data[pos:]
                pos = 0
            else:
                chunk = data[pos:end + 1]
                pos = (end + 1) % len(data)
            os.write(fd, chunk)
            written += len(chunk)
            lines += chunk.count(b"\n")
        next_tick += tick
        time.sleep(max(0.0, next_tick - time.time()))
    os.close(fd)
    result.put((written, lines, start, time.time()))


def run_steady(a, work, pool, kind):
    """kind: cairn-null, cairn-server or rsyslog."""
    name = unique_name(work, "steady-" + kind)
    logs = os.path.join(work, name + "-logs")
    os.makedirs(logs)
    target = os.path.join(logs, "app.log")
    glob = os.path.join(logs, "*.log")
    server = None
    if kind == "cairn-server":
        server, _ = start_server(a.bin, work, a.shards)
    try:
        if kind == "rsyslog":
            tailer = Rsyslog(work, name, glob, False, a.rsyslog_mode)
        else:
            tailer = CairnAgent(a.bin, work, name, [glob], False, a.steady_poll_interval_ms,
                                endpoint=server.endpoint if server else None,
                                credentials=server.credentials if server else None)
        pid = tailer.start() if kind == "rsyslog" else tailer.start(perf_path(a, name))
        time.sleep(2.0)  # start-up
        tailer.check_alive()
        # Idle: nothing to read yet.
        i_cpu0, i_t0 = proc_cpu_seconds(pid), time.time()
        time.sleep(a.idle_seconds)
        idle_pct = 100.0 * (proc_cpu_seconds(pid) - i_cpu0) / (time.time() - i_t0)
        idle_rss = rss_mb(pid)

        POOL[:] = pool
        ctx = mp.get_context("fork")
        started, result = ctx.Event(), ctx.Queue()
        writer = ctx.Process(target=writer_main, args=(target, a.rate_mb * MB, a.seconds, 0.02, started, result))
        writer.start()
        started.wait()
        perf = Perf(perf_path(a, name) if kind == "rsyslog" else None, pid)
        cpu0, t0 = proc_cpu_seconds(pid), time.time()
        s_cpu0 = proc_cpu_seconds(server.proc.pid) if server else 0.0
        samples = []  # (t, cpu, rss)
        last = (t0, cpu0)
        while writer.is_alive():
            writer.join(1.0)
            tailer.check_alive()
            t, c = time.time(), proc_cpu_seconds(pid)
            samples.append((t - t0, 100.0 * (c - last[1]) / (t - last[0]), rss_mb(pid)))
            last = (t, c)
        written, lines, w_start, w_end = result.get()
        writer.join()
        cpu1, t1 = proc_cpu_seconds(pid), time.time()
        s_cpu1 = proc_cpu_seconds(server.proc.pid) if server else 0.0
        perf.stop()
        # Catch-up: everything written is consumed.
        if kind == "rsyslog":
            done = lambda: tailer.lines_out() >= lines  # noqa: E731
        else:
            done = lambda: tailer.consumed([(target, written)]) >= written  # noqa: E731
        ok = wait_until(done, tailer.check_alive, 120)
        lag = time.time() - w_end
        peak = hwm_mb(pid)
        s_peak = hwm_mb(server.proc.pid) if server else float("nan")
        tailer.stop()
        check = "ok" if ok else "NOT CAUGHT UP"
        if kind != "rsyslog" and ok:
            check = agent_check(tailer.metrics(), lines, written)
        window = w_end - w_start
        steady = [s for s in samples if s[0] >= min(5.0, window / 3)]
        rss_steady = sorted(s[2] for s in steady)[len(steady) // 2] if steady else float("nan")
        cpu_max = max((s[1] for s in steady), default=float("nan"))
    finally:
        if server:
            server.stop()
            server.cleanup()
        shutil.rmtree(logs, ignore_errors=True)
    return dict(kind=kind, reader="rsyslog" if kind == "rsyslog" else "Cairn",
                sink={"cairn-null": "null sink", "cairn-server": "cairn serve", "rsyslog": "omfile"}[kind],
                mb=written / MB, lines=lines, window=window, rate=written / MB / window,
                cpu_pct=100.0 * (cpu1 - cpu0) / (t1 - t0),
                cpu_max=cpu_max, rss=rss_steady, peak_rss=peak, idle_pct=idle_pct, idle_rss=idle_rss,
                server_cpu_pct=100.0 * (s_cpu1 - s_cpu0) / (t1 - t0) if server else float("nan"),
                server_peak_rss=s_peak, lag=lag, check=check)


# ---------------------------------------------------------------------------------------------

def div(x, y):
    return x / y if y > 0 else float("nan")


def fmt(x, f="%.1f"):
    return "—" if x != x else f % x


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.environ.get("CAIRN_BIN", DEFAULT_BIN), help="cairn binary (env CAIRN_BIN)")
    p.add_argument("--total-mb", type=float, default=1024, help="MB of lines per data set (default 1024)")
    p.add_argument("--files", type=int, default=4, help="files per data set (default 4)")
    p.add_argument("--pool-mb", type=float, default=32, help="distinct lines per set, MB (default 32)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--poll-interval-ms", type=int, default=200,
                   help="cairn agent --poll-interval-ms in the throughput runs (default 200, the agent's)")
    p.add_argument("--steady-poll-interval-ms", type=int, default=200,
                   help="... in the steady-load runs (default 200)")
    p.add_argument("--shards", type=int, default=2, help="logstore shards of the server runs (default 2)")
    p.add_argument("--rate-mb", type=float, default=10, help="steady-load write rate, MB/s (default 10)")
    p.add_argument("--seconds", type=float, default=30, help="steady-load duration (default 30)")
    p.add_argument("--idle-seconds", type=float, default=5, help="idle CPU window before the load (default 5)")
    p.add_argument("--rsyslog-mode", default="inotify", choices=["inotify", "polling"], help="imfile mode")
    p.add_argument("--no-server", action="store_true", help="skip the runs into cairn serve")
    p.add_argument("--no-rsyslog", action="store_true", help="skip the rsyslog peer")
    p.add_argument("--no-throughput", action="store_true", help="skip the throughput runs")
    p.add_argument("--no-steady", action="store_true", help="skip the steady-load runs")
    p.add_argument("--repeat", type=int, default=1,
                   help="run every measurement this many times (interleaved); ratios and targets use medians")
    p.add_argument("--sets", default="single,nginx", help="data sets of the throughput runs (default single,nginx)")
    p.add_argument("--timeout", type=int, default=1200, help="per throughput run, seconds")
    p.add_argument("--perf-dir", default=None,
                   help="profile each reader with perf record --call-graph dwarf into DIR/<run>.perf.data (the "
                        "agent from its start; rsyslogd over the measured span); slows them: profile runs only")
    p.add_argument("--work-parent", default=None, help="where to create the temp dir (default $TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    p.add_argument("--label", default="", help="free text for the tables' first column")
    a = p.parse_args()

    if not os.access(a.bin, os.X_OK):
        raise SystemExit("cairn binary not found: %s (build it or set CAIRN_BIN)" % a.bin)
    if not a.no_rsyslog and not shutil.which("rsyslogd"):
        raise SystemExit("rsyslogd not found: apt-get install -y rsyslog (bench/run-agent does it), or --no-rsyslog")

    work = tempfile.mkdtemp(prefix="cairn-bench-agent-", dir=a.work_parent)
    rev = git_rev()
    label = a.label or time.strftime("%Y-%m-%d %H:%M")
    try:
        # ---- 1. data (untimed)
        t = time.time()
        base_time = int(time.time()) - 3600
        sets = [s for s in a.sets.split(",") if s]
        pools = {}
        data = {}
        for kind in sets + ([] if a.no_steady or "single" in sets else ["single"]):
            pools[kind] = build_pool(kind, a.pool_mb * MB, a.seed + (1 if kind == "nginx" else 0), base_time)
        if "nginx" in pools:
            rx = re.compile(NGINX_REGEX)
            bad = [ln for ln in pools["nginx"] if not rx.fullmatch(ln.decode("utf-8").rstrip("\n"))]
            if bad:
                raise SystemExit("%d nginx lines do not match the regex, e.g. %r" % (len(bad), bad[0]))
        if not a.no_throughput:
            for kind in sets:
                data[kind] = write_files(os.path.join(work, "data-" + kind), kind, pools[kind], a.files,
                                         int(a.total_mb * MB))
        print("data: %s in %.1fs (pool %.0f MB per set) under %s" % (
            ", ".join("%s %d files %.0f MB %d lines" % (k, len(v), sum(s for _, s, _ in v) / MB,
                                                         sum(n for _, _, n in v)) for k, v in data.items()),
            time.time() - t, a.pool_mb, work), file=sys.stderr)

        # ---- 2. throughput
        results = []
        steady = []
        for rep in range(1, a.repeat + 1):
            if not a.no_throughput:
                for kind in sets:
                    parse = kind == "nginx"
                    runs = [("cairn", "null")] + ([] if a.no_server else [("cairn", "server")]) \
                        + ([] if a.no_rsyslog else [("rsyslog", None)])
                    for reader, sink in runs:
                        t = time.time()
                        if reader == "cairn":
                            r = run_cairn_throughput(a, work, data[kind], parse, sink)
                        else:
                            r = run_rsyslog_throughput(a, work, data[kind], parse)
                        r.update(set=kind, rep=rep)
                        results.append(r)
                        print("throughput #%d %s/%s/%s: %.1f MB/CPU-s, %.1f MB/s wall (%.0fs) %s" % (
                            rep, kind, r["reader"], r["sink"], div(r["mb"], r["cpu"]), r["mb"] / r["wall"],
                            time.time() - t, r["check"]), file=sys.stderr)

            # ---- 3. steady load
            if not a.no_steady:
                kinds = ["cairn-null"] + ([] if a.no_server else ["cairn-server"]) \
                    + ([] if a.no_rsyslog else ["rsyslog"])
                for kind in kinds:
                    r = run_steady(a, work, pools["single"], kind)
                    r["rep"] = rep
                    steady.append(r)
                    print("steady #%d %s: %.2f%% CPU, RSS %.1f MB (peak %.1f) %s" % (
                        rep, kind, r["cpu_pct"], r["rss"], r["peak_rss"], r["check"]), file=sys.stderr)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept %s" % work, file=sys.stderr)

    print_tables(a, label, rev, results, steady)


def median(values):
    values = sorted(v for v in values if v == v)
    if not values:
        return float("nan")
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2.0


def print_tables(a, label, rev, results, steady):
    def run_name(r):
        return label if a.repeat == 1 else "%s #%d" % (label, r["rep"])

    if results:
        print("### Throughput (files read from the beginning, page cache warm)\n")
        print("| run | rev | data | reader | sink | parse | MB | lines | wall s | MB/s (wall) | CPU s | MB/CPU-s "
              "| lines/CPU-s | peak RSS MB | server CPU s | server MB/CPU-s | check |")
        print("|" + "---|" * 17)
        for r in results:
            print("| %s | %s | %s | %s | %s | %s | %.0f | %d | %.1f | %.1f | %.2f | **%.1f** | %.0f | %.1f | %s | %s "
                  "| %s |" % (run_name(r), rev, r["set"], r["reader"], r["sink"], r["parse"], r["mb"], r["lines"],
                              r["wall"], r["mb"] / r["wall"], r["cpu"], div(r["mb"], r["cpu"]),
                              div(r["lines"], r["cpu"]), r["peak_rss"], fmt(r["server_cpu"], "%.2f"),
                              fmt(div(r["mb"], r["server_cpu"]) if r["server_cpu"] == r["server_cpu"]
                                  else float("nan")), r["check"]))
        print()

    def eff(set_, reader, sink, key="cpu"):
        """Median over repeats of MB per CPU-second (key="cpu") or per wall second (key="wall")."""
        return median([div(r["mb"], r[key]) for r in results
                       if (r["set"], r["reader"], r["sink"]) == (set_, reader, sink)])

    sets = [s for s in a.sets.split(",") if s]
    rows = []
    for kind in sets:
        for sink in ("null sink", "cairn serve"):
            ce = eff(kind, "Cairn", sink)
            if ce != ce:
                continue
            re_ = eff(kind, "rsyslog", "omfile")
            rows.append("| %s | %s | %s | %.1f | %s | **%s×** | %s |" % (
                label, kind + (" (regex / mmnormalize)" if kind == "nginx" else " (no parsing)"), sink, ce,
                fmt(re_), fmt(div(ce, re_), "%.2f"),
                fmt(div(eff(kind, "Cairn", sink, "wall"), eff(kind, "rsyslog", "omfile", "wall")), "%.2f")))
    if rows:
        print("%s| run | data | Cairn sink | Cairn agent MB/CPU-s | rsyslog MB/CPU-s | CPU ratio Cairn/rsyslog "
              "| wall ratio Cairn/rsyslog |" % ("Medians of %d runs:\n\n" % a.repeat if a.repeat > 1 else ""))
        print("|" + "---|" * 7)
        print("\n".join(rows))
        print()
    if steady:
        print("### Steady load: %.0f MB/s appended to one file for %.0f s\n" % (a.rate_mb, a.seconds))
        print("| run | rev | reader | sink | MB written | MB/s | CPU % of a core | max 1-s CPU % | RSS MB (steady) "
              "| peak RSS MB | idle CPU % | idle RSS MB | caught up s after | server CPU % | check |")
        print("|" + "---|" * 15)
        for r in steady:
            print("| %s | %s | %s | %s | %.0f | %.2f | **%.2f** | %.1f | **%.1f** | %.1f | %.2f | %.1f | %.2f | %s | %s |"
                  % (run_name(r), rev, r["reader"], r["sink"], r["mb"], r["rate"], r["cpu_pct"], r["cpu_max"],
                     r["rss"], r["peak_rss"], r["idle_pct"], r["idle_rss"], r["lag"], fmt(r["server_cpu_pct"]),
                     r["check"]))
        print()

    # Targets (medians over repeats)
    lines = []
    single = eff("single", "Cairn", "null sink")
    if single == single:
        lines.append("- single-line ≥ 200 MB per agent CPU-second: %.1f → %s" % (
            single, "met" if single >= 200 else "MISSED (%.0f %% of target)" % (100 * single / 200)))
        rs = eff("single", "rsyslog", "omfile")
        if rs == rs:
            ratio = div(single, rs)
            lines.append("- ≥ 5× rsyslog (single-line, per CPU-second): %.2f× → %s" % (
                ratio, "met" if ratio >= 5 else "MISSED"))
    null_steady = [r for r in steady if r["kind"] == "cairn-null"]
    if null_steady:
        cpu = median([r["cpu_pct"] for r in null_steady])
        rss = median([r["rss"] for r in null_steady])
        peak = median([r["peak_rss"] for r in null_steady])
        lines.append("- ≤ 5 %% of a core at %.0f MB/s: %.2f %% → %s" % (
            a.rate_mb, cpu, "met" if cpu <= 5 else "MISSED"))
        lines.append("- ≤ 30 MB RSS at %.0f MB/s: steady %.1f MB, peak %.1f MB → %s" % (
            a.rate_mb, rss, peak, "met" if peak <= 30 else ("steady met, peak MISSED" if rss <= 30 else "MISSED")))
    if lines:
        print("Targets (Cairn into the null sink%s):\n" % (", medians" if a.repeat > 1 else "") + "\n".join(lines))


if __name__ == "__main__":
    main()
