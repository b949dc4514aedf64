#!/usr/bin/env python3
"""Ingest benchmark: PutLogs throughput and server CPU cost of a Cairn server.

1. Pre-builds --bodies PutLogs bodies BEFORE any timing: LogGroups of --group-size records from
   bench/generate_logs.py, serialised with the SLS SDK's own protobuf class (LogGroupRaw) and
   lz4-block compressed exactly like the SDK's put_logs (lz4.block.compress(data)[4:]).
2. Starts `$CAIRN_BIN serve` on a fresh data dir, creates a project, a logstore and (unless
   --no-index) an index, with the SDK.
3. Runs --concurrency client processes that sign each request (SLS V1, as the SDK does) and POST
   the prebuilt bodies to /logstores/{ls}/shards/lb on keep-alive connections until --total-mb
   of raw (uncompressed protobuf) data is sent. Every ack is fsynced by the server.
4. Measures wall time and the server's CPU time (utime+stime from /proc/<pid>/stat, before/after)
   and prints a markdown table row.
5. Peer (unless --no-peer): decodes the distinct bodies back into records, writes them as NDJSON
   (untimed), and has DuckDB load exactly the records Cairn was sent (the distinct bodies' file
   once per full round-robin cycle, plus a file of the leftover prefix of bodies) into a table of
   a fresh on-disk database, in a separate process (bench/peer_duckdb.py) whose CPU is measured
   alone. Prints a second table: Cairn vs DuckDB per raw MB and per CPU-second, with ratios.

  bench/run-ingest                       # build release, set up the venv, run with defaults
  python bench/ingest.py --total-mb 64   # a small run
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import math
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generate_logs import LogGenerator  # noqa: E402

DEFAULT_BIN = "/root/.cache/cairn-target/release/cairn"
API_VERSION = "0.6.0"
USER_AGENT = "cairn-bench-ingest (log-python-sdk-v-0.9.52 compatible)"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# SLS V1 signing (reference 1.3; python auth.py AuthV1)

def sign_v1(secret, method, content_md5, content_type, date, headers, resource, params=None):
    canon_headers = "".join(
        "%s:%s\n" % (k, headers[k])
        for k in sorted(headers)
        if (k.startswith("x-log-") and not k.startswith("x-log-meta-") and k != "x-log-date")
        or k.startswith("x-acs-")
    )
    canon_resource = resource
    if params:
        canon_resource += "?" + "&".join("%s=%s" % (k, params[k]) for k in sorted(params))
    to_sign = "%s\n%s\n%s\n%s\n%s%s" % (method, content_md5, content_type, date, canon_headers, canon_resource)
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def self_test_signing():
    """The reference's VERIFIED vectors (sls-api.md 1.3)."""
    h = {"x-log-apiversion": "0.6.0", "x-log-bodyrawsize": "33", "x-log-compresstype": "lz4",
         "x-log-signaturemethod": "hmac-sha1"}
    got = sign_v1("SECRET", "POST", "45FEE67A0FAE6B568B57C73C6AEDE28F", "application/x-protobuf",
                  "Mon, 01 Jan 2024 00:00:00 GMT", h, "/logstores/store/shards/lb")
    assert got == "XTCYkh6u4ZHTLQDWY+HynBC7xHQ=", got
    h = {"x-log-apiversion": "0.6.0", "x-log-bodyrawsize": "0", "x-log-signaturemethod": "hmac-sha1"}
    params = {"accurate": "True", "from": "1704067200", "fromNs": "0", "line": "10", "offset": "0",
              "powerSql": "False", "query": "error and status:500", "reverse": "false", "to": "1704067260",
              "toNs": "0", "type": "log"}
    got = sign_v1("SECRET", "GET", "", "", "Mon, 01 Jan 2024 00:00:00 GMT", h, "/logstores/store", params)
    assert got == "kBxfJ2fH7EAl+Buw5WJpBlItB6c=", got


# ---------------------------------------------------------------------------------------------
# Body construction (before timing)

class Body(object):
    __slots__ = ("data", "raw_size", "md5", "records")

    def __init__(self, data, raw_size, md5, records):
        self.data = data
        self.raw_size = raw_size
        self.md5 = md5
        self.records = records


def build_bodies(count, group_size, seed, base_time, source, topic):
    from aliyun.log.compress import lz_compresss  # the SDK's own: lz4.block.compress(data)[4:]
    from aliyun.log.proto import LogGroupRaw

    gen = LogGenerator(seed=seed, base_time=base_time)
    bodies = []
    for b in range(count):
        group = LogGroupRaw()
        group.Topic = topic
        group.Source = source
        tag = group.LogTags.add()
        tag.Key = "bench"
        tag.Value = "ingest"
        tag = group.LogTags.add()
        tag.Key = "batch"
        tag.Value = str(b)
        for t, rec in gen.records(group_size):
            log = group.Logs.add()
            log.Time = t
            log.Time_ns = (t * 7919 + len(group.Logs)) % 1_000_000_000
            for k, v in rec:
                c = log.Contents.add()
                c.Key = k
                c.Value = v.encode("utf-8")
        raw = group.SerializeToString()
        data = lz_compresss(raw)
        bodies.append(Body(data, len(raw), hashlib.md5(data).hexdigest().upper(), group_size))
    return bodies


# ---------------------------------------------------------------------------------------------
# Peer: DuckDB loading the same records (bench/peer_duckdb.py in a separate process)

def body_records(body):
    """The records of a sent body, decoded from the very bytes sent, as GetLogs-shaped dicts."""
    import lz4.block
    from aliyun.log.proto import LogGroupRaw
    group = LogGroupRaw()
    group.ParseFromString(lz4.block.decompress(body.data, uncompressed_size=body.raw_size))
    common = {"__topic__": group.Topic, "__source__": group.Source}
    for tag in group.LogTags:
        common["__tag__:" + tag.Key] = tag.Value
    for log in group.Logs:
        rec = {"__time__": log.Time, "__time_ns_part__": log.Time_ns}
        rec.update(common)
        for c in log.Contents:
            rec[c.Key] = c.Value.decode("utf-8")
        yield rec


def write_peer_input(bodies, n_requests, out_dir):
    """Untimed. Requests go round-robin over the bodies, so the records sent are: every body's
    records n_requests // len(bodies) times, then those of the first n_requests % len(bodies)
    bodies once more. Writes all bodies to all.ndjson and that prefix to rest.ndjson, and returns
    (files to load in order, columns, NDJSON bytes that will be parsed, records)."""
    columns = {"__time__": "BIGINT", "__time_ns_part__": "BIGINT"}
    full_reps, rest = divmod(n_requests, len(bodies))
    all_path = os.path.join(out_dir, "all.ndjson")
    rest_path = os.path.join(out_dir, "rest.ndjson")
    sizes = {}
    with open(all_path, "w", encoding="utf-8") as fa, open(rest_path, "w", encoding="utf-8") as fr:
        for i, body in enumerate(bodies):
            for rec in body_records(body):
                for k in rec:
                    columns.setdefault(k, "VARCHAR")
                line = json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n"
                fa.write(line)
                if i < rest:
                    fr.write(line)
    sizes[all_path] = os.path.getsize(all_path)
    sizes[rest_path] = os.path.getsize(rest_path)
    files = [all_path] * full_reps + ([rest_path] if rest else [])
    records = sum(b.records for b in bodies) * full_reps + sum(b.records for b in bodies[:rest])
    return files, list(columns.items()), sum(sizes[f] for f in files), records


def run_duckdb_peer(bodies, n_requests, work_parent, keep, threads):
    import resource
    out_dir = tempfile.mkdtemp(prefix="cairn-bench-duckdb-", dir=work_parent)
    try:
        t = time.time()
        files, columns, ndjson_bytes, records = write_peer_input(bodies, n_requests, out_dir)
        cols_path = os.path.join(out_dir, "columns.json")
        with open(cols_path, "w") as f:
            json.dump(columns, f)
        print("peer: wrote NDJSON in %.1fs (%d columns); DuckDB runs %d load statements over %.0f MB of NDJSON, "
              "%d records" % (time.time() - t, len(columns), len(files), ndjson_bytes / 1e6, records),
              file=sys.stderr)
        cmd = [sys.executable, os.path.join(HERE, "peer_duckdb.py"), "--db", os.path.join(out_dir, "logs.duckdb"),
               "--columns", cols_path]
        if threads:
            cmd += ["--threads", str(threads)]
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.time()
        proc = subprocess.run(cmd + files, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        proc_wall = time.time() - w0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit("DuckDB peer failed with exit code %d" % proc.returncode)
        res = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        res.update(ndjson_bytes=ndjson_bytes, expected=records, proc_wall=proc_wall,
                   proc_cpu=(r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime))
        return res
    finally:
        if not keep:
            shutil.rmtree(out_dir, ignore_errors=True)
        else:
            print("peer: kept %s" % out_dir, file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Server process

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after "pid (comm)": state is fields[0]; utime is field 14 overall -> index 11 here.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_peak_rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def dir_size_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total / 1e6


class Server(object):
    def __init__(self, binary, data_parent=None, keep=False, extra_args=()):
        self.binary = binary
        self.extra_args = list(extra_args)  # more `cairn serve` flags, e.g. ["--flush-seconds", "10"]
        self.data_dir = tempfile.mkdtemp(prefix="cairn-bench-", dir=data_parent)
        self.port = free_port()
        self.endpoint = "127.0.0.1:%d" % self.port
        self.keep = keep
        # Beside the data dir, named without "..": cleanup() removes the data dir first.
        self.stderr_path = os.path.join(os.path.dirname(self.data_dir), os.path.basename(self.data_dir) + ".stderr.log")
        self.proc = None

    def start(self, timeout=30):
        import requests
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--data-dir", self.data_dir, "--listen", self.endpoint] + self.extra_args,
            stdout=subprocess.DEVNULL, stderr=self._err, stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        creds = os.path.join(self.data_dir, "credentials.json")
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("server exited with %s:\n%s" % (self.proc.returncode, self.stderr_tail()))
            try:
                if requests.get("http://%s/health" % self.endpoint, timeout=2).status_code == 200 \
                        and os.path.exists(creds):
                    with open(creds) as f:
                        self.credentials = json.load(f)
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit("server not healthy after %ds:\n%s" % (timeout, self.stderr_tail()))

    def stderr_tail(self, n=40):
        try:
            with open(self.stderr_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_err", None):
            self._err.close()

    def cleanup(self):
        if not self.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            try:
                os.unlink(self.stderr_path)
            except OSError:
                pass


def sdk_client(server):
    from aliyun.log import LogClient
    c = LogClient(server.endpoint, server.credentials["accessKeyId"], server.credentials["accessKeySecret"])
    c._isRowIp = True  # reference 1.5: talk to 127.0.0.1:PORT with Host <project>.127.0.0.1
    c.set_source("192.0.2.1")
    return c


def create_index(client, project, logstore):
    from aliyun.log import IndexConfig, IndexKeyConfig, IndexLineConfig
    tokens = list(" \n\t\r,;[]{}()&^*#@~=<>/\\?:'\"")
    keys = {}
    for k in ("request_uri", "host", "hostname", "level", "service", "message", "content", "remote_addr"):
        keys[k] = IndexKeyConfig(token_list=tokens, index_type="text", doc_value=True)
    for k in ("status", "body_bytes_sent", "duration_ms"):
        keys[k] = IndexKeyConfig(index_type="long", doc_value=True)
    keys["request_time"] = IndexKeyConfig(index_type="double", doc_value=True)
    client.create_index(project, logstore, IndexConfig(line_config=IndexLineConfig(token_list=tokens),
                                                       key_config_list=keys))


# ---------------------------------------------------------------------------------------------
# Client workers (forked after the bodies are built; they share them copy-on-write)

BODIES = []


def worker(idx, endpoint, project, logstore, ak_id, ak_secret, request_ids, start_evt, results):
    host = "%s.127.0.0.1" % project
    resource = "/logstores/%s/shards/lb" % logstore
    conn = http.client.HTTPConnection(endpoint.split(":")[0], int(endpoint.split(":")[1]), timeout=300)
    sent_raw = sent_wire = records = retries = 0
    lat = []
    start_evt.wait()
    t_start = time.time()
    for n in request_ids:
        body = BODIES[n % len(BODIES)]
        for attempt in range(20):
            date = formatdate(usegmt=True)
            log_headers = {
                "x-log-apiversion": API_VERSION,
                "x-log-bodyrawsize": str(body.raw_size),
                "x-log-compresstype": "lz4",
                "x-log-signaturemethod": "hmac-sha1",
            }
            sig = sign_v1(ak_secret, "POST", body.md5, "application/x-protobuf", date, log_headers, resource)
            headers = dict(log_headers)
            headers.update({
                "Host": host,
                "User-Agent": USER_AGENT,
                "Content-Type": "application/x-protobuf",
                "Content-Length": str(len(body.data)),
                "Content-MD5": body.md5,
                "Date": date,
                "x-log-date": date,
                "Authorization": "LOG %s:%s" % (ak_id, sig),
            })
            t0 = time.time()
            try:
                conn.request("POST", resource, body=body.data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(endpoint.split(":")[0], int(endpoint.split(":")[1]), timeout=300)
                retries += 1
                if attempt == 19:
                    results.put(("error", idx, "connection error: %r" % exc))
                    return
                time.sleep(0.5)
                continue
            lat.append(time.time() - t0)
            if resp.status == 200:
                break
            if resp.status >= 500 or resp.status == 429:
                retries += 1
                time.sleep(0.2)
                continue
            results.put(("error", idx, "HTTP %d: %s" % (resp.status, payload[:500].decode("utf-8", "replace"))))
            return
        else:
            results.put(("error", idx, "gave up after retries"))
            return
        sent_raw += body.raw_size
        sent_wire += len(body.data)
        records += body.records
    conn.close()
    results.put(("ok", idx, dict(raw=sent_raw, wire=sent_wire, records=records, retries=retries,
                                 requests=len(request_ids), lat=lat, start=t_start, end=time.time(),
                                 cpu=sum(os.times()[:2]))))


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(math.ceil(p / 100.0 * len(values))) - 1)]


def git_rev():
    try:
        return subprocess.check_output(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                                       stderr=subprocess.DEVNULL).decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.environ.get("CAIRN_BIN", DEFAULT_BIN), help="cairn binary (env CAIRN_BIN)")
    p.add_argument("--total-mb", type=float, default=2048, help="raw (uncompressed) MB to send (default 2048)")
    p.add_argument("--concurrency", "-c", type=int, default=4, help="client processes (default 4)")
    p.add_argument("--group-size", type=int, default=4096, help="records per LogGroup (default 4096)")
    p.add_argument("--bodies", type=int, default=48, help="distinct prebuilt bodies, sent round-robin (default 48)")
    p.add_argument("--shards", type=int, default=2, help="logstore shard count (default 2)")
    p.add_argument("--no-index", action="store_true", help="do not create an index on the logstore")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data-parent", default=None, help="where to create the server's temp data dir")
    p.add_argument("--keep", action="store_true", help="keep the server data dir")
    p.add_argument("--no-verify", action="store_true", help="skip the post-run record count check")
    p.add_argument("--label", default="", help="free text for the table's first column")
    p.add_argument("--no-peer", action="store_true", help="skip the DuckDB peer run")
    p.add_argument("--peer-threads", type=int, default=0, help="DuckDB threads (default: DuckDB's, = cores)")
    a = p.parse_args()

    self_test_signing()
    if not os.access(a.bin, os.X_OK):
        raise SystemExit("cairn binary not found: %s (build it or set CAIRN_BIN)" % a.bin)
    if not a.no_peer:
        try:
            import duckdb  # noqa: F401  (only checked here; the peer runs in its own process)
        except ImportError:
            raise SystemExit("duckdb not installed: pip install -r bench/requirements.txt (bench/run-ingest "
                             "does it), or pass --no-peer")

    # ---- 1. build bodies (untimed)
    base_time = int(time.time()) - 1800
    t = time.time()
    bodies = build_bodies(a.bodies, a.group_size, a.seed, base_time, source="192.0.2.1", topic="bench")
    avg_raw = sum(b.raw_size for b in bodies) / float(len(bodies))
    avg_wire = sum(len(b.data) for b in bodies) / float(len(bodies))
    n_requests = max(1, int(math.ceil(a.total_mb * 1e6 / avg_raw)))
    print("built %d bodies of %d records in %.1fs: avg raw %.2f MB, lz4 %.2f MB (ratio %.2f); %d requests"
          % (len(bodies), a.group_size, time.time() - t, avg_raw / 1e6, avg_wire / 1e6, avg_raw / avg_wire,
             n_requests), file=sys.stderr)
    BODIES[:] = bodies

    # ---- 2. server + setup
    server = Server(a.bin, a.data_parent, a.keep)
    server.start()
    try:
        client = sdk_client(server)
        project, logstore = "bench-ingest", "events"
        client.create_project(project, "ingest benchmark")
        client.create_logstore(project, logstore, ttl=30, shard_count=a.shards)
        if not a.no_index:
            create_index(client, project, logstore)

        # ---- 3. run
        ctx = mp.get_context("fork")
        start_evt = ctx.Event()
        results = ctx.Queue()
        ids = list(range(n_requests))
        procs = []
        for i in range(a.concurrency):
            pr = ctx.Process(target=worker, args=(i, server.endpoint, project, logstore,
                                                  server.credentials["accessKeyId"],
                                                  server.credentials["accessKeySecret"],
                                                  ids[i::a.concurrency], start_evt, results))
            pr.start()
            procs.append(pr)
        time.sleep(0.5)  # let workers reach the barrier
        cpu0 = proc_cpu_seconds(server.proc.pid)
        w0 = time.time()
        start_evt.set()
        outs = []
        errors = []
        for _ in procs:
            kind, idx, payload = results.get()
            (outs if kind == "ok" else errors).append(payload)
            if kind != "ok":
                break
        wall = time.time() - w0
        cpu1 = proc_cpu_seconds(server.proc.pid)
        for pr in procs:
            if errors:
                pr.terminate()
            pr.join()
        if errors:
            raise SystemExit("client error: %s\n--- server stderr ---\n%s" % (errors[0], server.stderr_tail()))

        raw_mb = sum(o["raw"] for o in outs) / 1e6
        wire_mb = sum(o["wire"] for o in outs) / 1e6
        records = sum(o["records"] for o in outs)
        retries = sum(o["retries"] for o in outs)
        lat = [x for o in outs for x in o["lat"]]
        client_cpu = sum(o["cpu"] for o in outs)
        server_cpu = cpu1 - cpu0

        verified = "-"
        if not a.no_verify:
            verified = verify_count(client, project, logstore, base_time, records)
        rss = proc_peak_rss_mb(server.proc.pid)
        disk = dir_size_mb(server.data_dir)
    finally:
        server.stop()
        server.cleanup()

    rev = git_rev()
    run_label = a.label or time.strftime("%Y-%m-%d %H:%M")
    header = ("| run | rev | clients | raw MB | lz4 MB | records | wall s | raw MB/s | records/s | server CPU s "
              "| raw MB/CPU-s | records/CPU-s | client CPU s | p50 ms | p99 ms | retries | peak RSS MB | disk MB "
              "| count check |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    print("| %s | %s | %d | %.0f | %.0f | %d | %.1f | %.1f | %.0f | %.1f | %.1f | %.0f | %.1f | %.0f | %.0f | %d "
          "| %.0f | %.0f | %s |" % (
              run_label, rev, a.concurrency, raw_mb, wire_mb, records, wall,
              raw_mb / wall, records / wall, server_cpu,
              raw_mb / server_cpu if server_cpu > 0 else float("nan"),
              records / server_cpu if server_cpu > 0 else float("nan"),
              client_cpu, percentile(lat, 50) * 1e3, percentile(lat, 99) * 1e3, retries, rss, disk, verified))
    sys.stdout.flush()

    if a.no_peer:
        return
    peer = run_duckdb_peer(bodies, n_requests, a.data_parent, a.keep, a.peer_threads)
    d_wall, d_cpu = peer["wall"], peer["cpu"]
    d_check = "ok" if peer["rows"] == records == peer["expected"] else "MISMATCH %s/%d" % (peer["rows"], records)

    def div(x, y):
        return x / y if y > 0 else float("nan")

    c_eff, d_eff = div(raw_mb, server_cpu), div(raw_mb, d_cpu)
    print()
    header = ("| run | rev | raw MB | records | Cairn raw MB/CPU-s | DuckDB raw MB/CPU-s | CPU ratio Cairn/DuckDB "
              "| Cairn raw MB/s | DuckDB raw MB/s | wall ratio Cairn/DuckDB | Cairn CPU s | DuckDB CPU s "
              "| DuckDB process CPU s | Cairn wall s | DuckDB wall s | DuckDB NDJSON MB | Cairn disk MB "
              "| DuckDB db MB | DuckDB peak RSS MB | DuckDB threads | DuckDB count check |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    print("| %s | %s | %.0f | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f "
          "| %.0f | %.0f | %.0f | %.0f | %s | %s |" % (
              run_label, rev, raw_mb, records, c_eff, d_eff, div(c_eff, d_eff),
              raw_mb / wall, div(raw_mb, d_wall), div(raw_mb / wall, div(raw_mb, d_wall)),
              server_cpu, d_cpu, peer["proc_cpu"], wall, d_wall, peer["ndjson_bytes"] / 1e6, disk,
              (peer["db_bytes"] + peer["wal_bytes"]) / 1e6, peer["peak_rss_mb"], peer["threads"], d_check))
    print("\nDuckDB %s: %d statements (CREATE TABLE AS + INSERTs + CHECKPOINT); CPU/wall are connect..close; "
          "'process CPU' is the whole peer process incl. Python start and import (RUSAGE_CHILDREN)."
          % (peer["version"], peer["statements"]))


def verify_count(client, project, logstore, base_time, expected, timeout=120):
    """Total hits of `*` over the whole time range, from GetHistograms (untimed)."""
    from aliyun.log import GetHistogramsRequest, LogException
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        try:
            resp = client.get_histograms(GetHistogramsRequest(project, logstore, base_time - 60,
                                                              int(time.time()) + 3600, query="*"))
            got = resp.get_total_count()
        except LogException as exc:
            return "error: %s" % exc.get_error_code()
        if got == expected:
            return "ok"
        time.sleep(2)
    return "MISMATCH %s/%d" % (got, expected)


if __name__ == "__main__":
    main()
