"""Helpers of the storage and query benchmark (bench/storage.py): data workers, the freshness
probe, the split catalog, and the peers (ripgrep over the raw corpus, DuckDB over the split files).

Raw bytes, everywhere in this benchmark: the sum over records of len(key) + len(value) in UTF-8
bytes of each record's content fields (no time, topic, source or tags). The uncompressed protobuf
size (`x-log-bodyrawsize`, what bench/run-ingest calls raw) and the server's own raw size (the split
catalog's raw_bytes: keys, values, tags, topic, source + 8 per record) are reported beside it.
"""

import http.client
import os
import random
import sqlite3
import statistics
import subprocess
import threading
import time
from email.utils import formatdate

from generate_logs import LogGenerator
from ingest import API_VERSION, USER_AGENT, proc_cpu_seconds, sign_v1

PROJECT = "bench-storage"
LOGSTORE = "events"
TOPIC = "bench"


# ---------------------------------------------------------------------------------------------
# The data plan: what every worker generates, decided before any worker starts

def needle_tokens(seed, count):
    """`count` distinct rare tokens like `needle7f3a9c1`, deterministic for the seed."""
    rng = random.Random(seed ^ 0x4E45_4544)
    out = []
    while len(out) < count:
        token = "needle%07x" % rng.getrandbits(28)
        if token not in out:
            out.append(token)
    return out


def worker_record_count(plan, w):
    """Records worker `w` generates: the global record indices g = k * clients + w."""
    n, c = plan["records"], plan["clients"]
    return n // c + (1 if w < n % c else 0)


def planted_needle(plan, g):
    """The needle planted into global record `g`, or None: needle j goes into every record with
    g % stride == j * (stride // needles), i.e. ~records/stride records each, evenly over the run."""
    needles = plan["needles"]
    gap = plan["stride"] // len(needles)
    r = g % plan["stride"]
    if r % gap == 0 and r // gap < len(needles):
        return needles[r // gap]
    return None


def plant(rec, needle):
    """Puts the needle into the record's `message`/`content` text after a space (SLS's default
    delimiters make it its own token), or else into a field of its own, `marker`."""
    for i, (key, value) in enumerate(rec):
        if key in ("message", "content"):
            rec = list(rec)
            rec[i] = (key, value + " " + needle)
            return rec
    return list(rec) + [("marker", needle)]


# ---------------------------------------------------------------------------------------------
# PutLogs over one keep-alive connection, signed with SLS V1 (as bench/ingest.py does)

class Sender(object):
    """Posts lz4 LogGroup bodies to /logstores/{ls}/shards/lb, retrying 5xx/429/connection errors."""

    def __init__(self, endpoint, ak_id, ak_secret, project=PROJECT, logstore=LOGSTORE):
        self.host, self.port = endpoint.split(":")[0], int(endpoint.split(":")[1])
        self.ak_id, self.ak_secret = ak_id, ak_secret
        self.vhost = "%s.127.0.0.1" % project
        self.resource = "/logstores/%s/shards/lb" % logstore
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
        self.retries = 0

    def post(self, data, raw_size):
        import hashlib
        md5 = hashlib.md5(data).hexdigest().upper()
        for attempt in range(30):
            date = formatdate(usegmt=True)
            log_headers = {"x-log-apiversion": API_VERSION, "x-log-bodyrawsize": str(raw_size),
                           "x-log-compresstype": "lz4", "x-log-signaturemethod": "hmac-sha1"}
            sig = sign_v1(self.ak_secret, "POST", md5, "application/x-protobuf", date, log_headers, self.resource)
            headers = dict(log_headers, **{
                "Host": self.vhost, "User-Agent": USER_AGENT, "Content-Type": "application/x-protobuf",
                "Content-Length": str(len(data)), "Content-MD5": md5, "Date": date, "x-log-date": date,
                "Authorization": "LOG %s:%s" % (self.ak_id, sig)})
            try:
                self.conn.request("POST", self.resource, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
                self.retries += 1
                time.sleep(0.5)
                continue
            if resp.status == 200:
                return
            if resp.status >= 500 or resp.status == 429:
                self.retries += 1
                time.sleep(0.2)
                continue
            raise RuntimeError("PutLogs HTTP %d: %s" % (resp.status, payload[:500].decode("utf-8", "replace")))
        raise RuntimeError("PutLogs gave up after %d attempts" % (attempt + 1))


def data_worker(plan, w, endpoint, ak_id, ak_secret, start_evt, results):
    """Worker process `w`: generates its share of the records (deterministic for the plan),
    plants the needles, sends LogGroups of `group_size` records (lz4, like the SDK) and appends
    every record as one `__time__=T key=value ...` line to its corpus file. Streams: one group in
    memory at a time. Puts ("ok", w, stats) or ("error", w, message) on `results`."""
    try:
        results.put(("ok", w, _produce(plan, w, endpoint, ak_id, ak_secret, start_evt)))
    except BaseException as exc:  # noqa: B902 - reported to the parent, which stops the run
        results.put(("error", w, "%s: %s" % (type(exc).__name__, exc)))


def _produce(plan, w, endpoint, ak_id, ak_secret, start_evt):
    from aliyun.log.compress import lz_compresss  # the SDK's own lz4 block framing
    from aliyun.log.proto import LogGroupRaw

    clients, total = plan["clients"], worker_record_count(plan, w)
    gen = LogGenerator(seed=plan["seed"] * 1000 + w, base_time=plan["base_time"],
                       rate_per_second=plan["rate"] / clients)
    sender = Sender(endpoint, ak_id, ak_secret)
    st = dict(kv=0, pb=0, wire=0, records=0, requests=0, corpus=0, max_time=0, planted={})
    corpus_path = os.path.join(plan["work_dir"], "corpus-%d.txt" % w)
    start_evt.wait()
    st["start"] = time.time()
    k = 0
    with open(corpus_path, "w", encoding="utf-8", buffering=1 << 20) as corpus:
        while k < total:
            group = LogGroupRaw()
            group.Topic = TOPIC
            group.Source = "192.0.2.%d" % (w + 1)
            tag = group.LogTags.add()
            tag.Key, tag.Value = "client", str(w)
            lines = []
            for t, rec in gen.records(min(plan["group_size"], total - k)):
                needle = planted_needle(plan, k * clients + w)
                if needle:
                    rec = plant(rec, needle)
                    st["planted"].setdefault(needle, []).append(t)
                log = group.Logs.add()
                log.Time = t
                parts = ["__time__=%d" % t]
                for key, value in rec:
                    vb = value.encode("utf-8")
                    c = log.Contents.add()
                    c.Key, c.Value = key, vb
                    st["kv"] += len(key) + len(vb)
                    parts.append("%s=%s" % (key, value.replace("\r", "\\r").replace("\n", "\\n")))
                lines.append(" ".join(parts))
                st["max_time"] = max(st["max_time"], t)
                k += 1
            raw = group.SerializeToString()
            data = lz_compresss(raw)
            sender.post(data, len(raw))
            st["last_ack"] = time.time()
            st["pb"] += len(raw)
            st["wire"] += len(data)
            st["records"] += len(group.Logs)
            st["requests"] += 1
            text = "\n".join(lines) + "\n"
            corpus.write(text)
            st["corpus"] += len(text.encode("utf-8"))
    st.update(retries=sender.retries, corpus_path=corpus_path, cpu=sum(os.times()[:2]))
    return st


# ---------------------------------------------------------------------------------------------
# Freshness: PutLogs one marked record, poll GetLogs until it is visible

class FreshnessProbe(threading.Thread):
    """Every `interval` s: PutLogs one record `probe=<marker>` (SDK, lz4), then GetLogs the marker
    over [t-5, t+5) every `poll` s until a row comes back. Latency = time the first response
    holding the row arrived - time the PutLogs ack arrived (so it includes that GetLogs' round trip)."""

    def __init__(self, client, interval=0.25, poll=0.02, timeout=30.0):
        threading.Thread.__init__(self, daemon=True)
        self.client, self.interval, self.poll, self.timeout = client, interval, poll, timeout
        self.run_id = "%08x" % random.getrandbits(32)
        self.stop_evt = threading.Event()
        self.latencies, self.errors = [], []
        self.acked = self.polls = self.timeouts = 0

    def run(self):
        from aliyun.log import GetLogsRequest, LogException, LogItem, PutLogsRequest
        seq = 0
        while not self.stop_evt.is_set():
            next_put = time.monotonic() + self.interval
            marker = "fresh%s%06d" % (self.run_id, seq)
            seq += 1
            now = int(time.time())
            try:
                self.client.put_logs(PutLogsRequest(PROJECT, LOGSTORE, "probe", "192.0.2.99",
                                                    [LogItem(timestamp=now, contents=[("probe", marker)])]))
                ack = time.monotonic()
                self.acked += 1
                while True:
                    t0 = time.monotonic()
                    resp = self.client.get_logs(GetLogsRequest(PROJECT, LOGSTORE, now - 5, now + 5,
                                                               query=marker, line=10))
                    self.polls += 1
                    if resp.get_count() > 0:
                        self.latencies.append(time.monotonic() - ack)
                        break
                    if time.monotonic() - ack > self.timeout:
                        self.timeouts += 1
                        break
                    time.sleep(max(0.0, self.poll - (time.monotonic() - t0)))
            except LogException as exc:
                self.errors.append("%s: %s" % (exc.get_error_code(), exc.get_error_message()[:200]))
            time.sleep(max(0.0, next_put - time.monotonic()))


# ---------------------------------------------------------------------------------------------
# The split catalog (read-only) and waiting for flushes and merges

def published_splits(data_dir, project=PROJECT, logstore=LOGSTORE):
    """The published splits of the logstore from the server's catalog (`meta.sqlite`, table
    `splits`), opened read-only: [{split_id, logstore_id, row_count, raw_bytes, merge_level}]."""
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(data_dir, "meta.sqlite"), uri=True, timeout=10)
    try:
        rows = con.execute(
            "SELECT s.split_id, s.logstore_id, s.row_count, s.raw_bytes, s.merge_level FROM splits s "
            "JOIN logstores l ON l.id = s.logstore_id WHERE l.project = ? AND l.name = ?",
            (project, logstore)).fetchall()
    finally:
        con.close()
    keys = ("split_id", "logstore_id", "row_count", "raw_bytes", "merge_level")
    return [dict(zip(keys, r)) for r in rows]


def split_files(data_dir, split):
    """(parquet path, tokens path) of a published split."""
    base = os.path.join(data_dir, "objects", "splits", str(split["logstore_id"]), split["split_id"])
    return base + ".parquet", base + ".tokens"


def wait_flushed(data_dir, expected_rows, timeout):
    """Polls the catalog every 0.1 s until the published splits hold `expected_rows` records (no
    record left only in memory/WAL). Returns (time.time() when seen, rows seen)."""
    deadline = time.time() + timeout
    rows = 0
    while time.time() < deadline:
        rows = sum(s["row_count"] for s in published_splits(data_dir))
        if rows >= expected_rows:
            return time.time(), rows
        time.sleep(0.1)
    raise SystemExit("not flushed after %ds: %d of %d records in splits" % (timeout, rows, expected_rows))


def wait_settled(data_dir, pid, quiet=5.0, timeout=900.0):
    """Waits for background merges to end: the catalog's split set unchanged and the server using
    < 5 % of a core for `quiet` seconds. Returns (seconds waited, settled?)."""
    t0 = time.time()
    last, since, cpu_since = None, time.time(), proc_cpu_seconds(pid)
    while time.time() - t0 < timeout:
        ids = frozenset(s["split_id"] for s in published_splits(data_dir))
        now, cpu = time.time(), proc_cpu_seconds(pid)
        if ids != last:
            last, since, cpu_since = ids, now, cpu
        elif now - since >= quiet:
            if cpu - cpu_since < 0.05 * (now - since):
                return now - t0, True
            since, cpu_since = now, cpu
        time.sleep(0.5)
    return time.time() - t0, False


# ---------------------------------------------------------------------------------------------
# Timing and the peers

def timed_median(fn, reps, warmups=1):
    """Runs fn() `warmups` times untimed, then `reps` times; returns (median seconds, times, last result)."""
    out = None
    for _ in range(warmups):
        out = fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def rg_search(token, files):
    """ripgrep over the raw corpus for a fixed string: every matching line, as `rg` prints them
    (default threads), read fully by this process; returns (matching lines, last 100 of them)."""
    proc = subprocess.run(["rg", "-F", "--no-filename", "--no-line-number", token] + list(files),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode not in (0, 1):
        raise RuntimeError("rg failed: %s" % proc.stderr.decode("utf-8", "replace")[:500])
    lines = proc.stdout.splitlines()
    return len(lines), lines[-100:]


# DuckDB over the very Parquet files of the published splits; Cairn's SQL is SLS's dialect.
# The SLS engine returns at most 100 rows unless the query says LIMIT, hence (2)'s LIMIT.
AGGREGATIONS = [
    ("status counts",
     "* | SELECT status, count(*) AS c GROUP BY status",
     "SELECT status, count(*) AS c FROM logs GROUP BY status"),
    ("per-minute counts",
     "* | SELECT __time__ - __time__ % 60 AS minute, count(*) AS c GROUP BY minute ORDER BY minute LIMIT 100000",
     "SELECT __time__ - __time__ % 60 AS minute, count(*) AS c FROM logs GROUP BY minute ORDER BY minute"),
    ("top 10 URLs by p99 latency",
     "* | SELECT request_uri, approx_percentile(request_time, 0.99) AS p99 FROM log "
     "GROUP BY request_uri ORDER BY p99 DESC LIMIT 10",
     "SELECT request_uri, approx_quantile(TRY_CAST(request_time AS DOUBLE), 0.99) AS p99 FROM logs "
     "GROUP BY request_uri ORDER BY p99 DESC NULLS LAST LIMIT 10"),
]


class DuckPeer(object):
    """In-process DuckDB (default threads = cores) with a view `logs` over the split files."""

    def __init__(self, parquet_files):
        import duckdb
        self.version = duckdb.__version__
        self.con = duckdb.connect()
        listing = ", ".join("'%s'" % f.replace("'", "''") for f in parquet_files)
        self.con.execute("CREATE VIEW logs AS SELECT * FROM read_parquet([%s], union_by_name = true)" % listing)
        self.threads = self.con.execute("SELECT current_setting('threads')").fetchone()[0]

    def query(self, sql):
        """Rows as lists of Python values (fetched fully)."""
        return [list(r) for r in self.con.execute(sql).fetchall()]

    def close(self):
        self.con.close()


def cairn_sql(client, query, from_time, to_time):
    """One GetLogs with SQL; rows as dicts of strings (the SDK's QueriedLog contents)."""
    from aliyun.log import GetLogsRequest
    resp = client.get_logs(GetLogsRequest(PROJECT, LOGSTORE, from_time, to_time, query=query, line=100))
    return [log.get_contents() for log in resp.get_logs()]


def null_key(value):
    """A group key as both engines print it: None for SQL NULL (SLS prints it as "null")."""
    return None if value is None or value == "null" else str(value)


def machine():
    """'<nproc> × <cpu model>, <RAM> GiB'."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return "%d × %s, %.0f GiB" % (os.cpu_count(), model, mem)
