#!/usr/bin/env python3
"""Storage and query benchmark: a Cairn server ingesting into searchable splits, then searched
and aggregated, each figure beside a peer measured in the same run.

Phases (all against one `$CAIRN_BIN serve --flush-seconds 10` on a fresh temp data dir):

 1. Data: --records / --total-mb of records from bench/generate_logs.py (nginx access logs with
    `status`, `request_uri`, `request_time`; JSON app logs; syslog; loghub lines), generated
    deterministically and streamed by --clients worker processes (never all in memory). --needles
    rare tokens (`needle7f3a9c1`, ...) are each planted into ~--plants records spread evenly over
    the run (appended to `message`/`content` after a space, else as a field `marker`). Every record
    is also appended as one `__time__=T key=value ...` line to the worker's corpus file: the raw
    text ripgrep scans. Raw bytes = sum of len(key)+len(value) (UTF-8) of the records' fields;
    the protobuf size (run-ingest's "raw") and the server's raw size are printed beside it.
 2. Ingest to searchable splits: the workers send signed (SLS V1) lz4 PutLogs of --group-size
    records. Server CPU (utime+stime, /proc/<pid>/stat) from the release of the workers until the
    server's split catalog (meta.sqlite, read-only) holds every acknowledged record, i.e. nothing
    is left only in memory/WAL. Target >= 50 raw MB per server CPU-second. Background merges then
    run until the split set is stable and the server idle (reported separately).
 3. Freshness under load, during phase 2: a thread PutLogs one record with a unique marker every
    --probe-interval-ms and polls GetLogs for it (range [t-5, t+5)) every --poll-interval-ms until
    it is returned; ack -> visible p50/p99/max. Target p99 <= 1 s. (Its requests are part of the
    server CPU of phase 2.)
 4. Needle search, after the merges and a `sync`: GetLogs (SDK, v2) for each needle over the
    whole range, line=100, reverse=true; 1 warm-up, median of --search-reps, checked to return
    the 100 newest planted records; the row is the median over needles. Peer: `rg -F
    --no-filename <needle> corpus-*.txt` (page cache warm, all output read), same repetitions
    per needle. Targets: <= 100 ms and >= 100x faster than rg.
 5. Aggregations: `* | SELECT ...` through the SDK's get_logs (status counts; per-minute counts;
    top 10 request_uri by approx p99 of request_time, typed double by the index), 1 warm-up +
    median of --sql-reps; "n/a" if the server answers ParameterInvalid (SQL not available).
    Peer: in-process DuckDB over read_parquet(<the published split files>, union_by_name) - the
    very files Cairn wrote - after the server is stopped, same repetitions. Target: Cairn within
    1.5x of DuckDB. Checked: (1)'s counts equal exactly, (2)'s total equals the records.
 6. Bytes on disk per raw byte: the published splits' .parquet + .tokens files / raw bytes.
    Target <= 0.15.

Prints a markdown table (metric | Cairn | peer | ratio | target | met?) and details; exits 1 if a
result check failed (wrong needle rows, counts differing between the engines or from the records
sent). Debug builds give meaningless numbers. Disk: the corpus takes ~1.15x the raw bytes (~6.3 GB
at the default size), the server's data dir ~0.2x plus up to a few 64 MiB WAL segments.

  bench/run-storage                                   # release build, venv; 20 M records (~5.5 GB raw)
  SKIP_BUILD=1 bench/run-storage --total-mb 40        # smoke run
"""

import argparse
import math
import multiprocessing as mp
import os
import shlex
import statistics
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import storage_lib as sl  # noqa: E402
from generate_logs import LogGenerator  # noqa: E402
from ingest import (DEFAULT_BIN, Server, create_index, dir_size_mb, git_rev, percentile,  # noqa: E402
                    proc_cpu_seconds, proc_peak_rss_mb, sdk_client, self_test_signing)

DEFAULT_RECORDS = 20_000_000
DEFAULT_TOTAL_MB = 5000.0


def parse_args():
    """The command line (see --help)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.environ.get("CAIRN_BIN", DEFAULT_BIN), help="cairn binary (env CAIRN_BIN)")
    p.add_argument("--records", type=int, default=None,
                   help="records to generate; with --total-mb the larger of the two (default: the larger of "
                        "%d and --total-mb's worth)" % DEFAULT_RECORDS)
    p.add_argument("--total-mb", type=float, default=None,
                   help="raw MB (1e6 bytes of keys+values) to generate, converted to records with the mean "
                        "record size of a 20,000-record sample (default %.0f)" % DEFAULT_TOTAL_MB)
    p.add_argument("--clients", "-c", type=int, default=2, help="data worker processes, each generating and "
                   "sending its share over its own connection (default 2, minimum 2)")
    p.add_argument("--group-size", type=int, default=4096, help="records per PutLogs LogGroup (default 4096)")
    p.add_argument("--needles", type=int, default=5, help="distinct planted rare tokens (default 5)")
    p.add_argument("--plants", type=int, default=1000, help="records each needle is planted in (default ~1000)")
    p.add_argument("--span-minutes", type=int, default=120,
                   help="record times spread over this many minutes, ending about a minute before the run "
                        "(default 120)")
    p.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    p.add_argument("--base-time", type=int, default=None,
                   help="time of the first record (default: now - span - 60 s, to the minute)")
    p.add_argument("--flush-seconds", type=int, default=10, help="server --flush-seconds (default 10)")
    p.add_argument("--flush-mb", type=int, default=64, help="server --flush-mb (default 64)")
    p.add_argument("--shards", type=int, default=2, help="logstore shard count (default 2)")
    p.add_argument("--search-reps", type=int, default=5, help="timed needle searches per side (default 5)")
    p.add_argument("--sql-reps", type=int, default=3, help="timed runs per aggregation per side (default 3)")
    p.add_argument("--probe-interval-ms", type=float, default=250, help="freshness probe put interval (250)")
    p.add_argument("--poll-interval-ms", type=float, default=20, help="freshness probe GetLogs interval (20)")
    p.add_argument("--no-probe", action="store_true", help="no freshness probe during ingest")
    p.add_argument("--no-rg", action="store_true", help="skip the ripgrep peer")
    p.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB peer")
    p.add_argument("--settle-timeout", type=float, default=900, help="max seconds to wait for merges (900)")
    p.add_argument("--work-dir", default=None, help="parent of the temp dirs (server data, corpus); default $TMPDIR")
    p.add_argument("--keep", action="store_true", help="keep the server data dir and the corpus")
    a = p.parse_args()
    if a.clients < 2:
        p.error("--clients must be at least 2")
    return a


def make_plan(a):
    """How many records, their time span and where the needles go; what every worker needs."""
    sample = list(LogGenerator(seed=a.seed).records(20000))
    avg = sum(len(k) + len(v.encode()) for _, rec in sample for k, v in rec) / len(sample)
    if a.records is None and a.total_mb is None:
        records = max(DEFAULT_RECORDS, int(math.ceil(DEFAULT_TOTAL_MB * 1e6 / avg)))
    else:
        records = max(a.records or 0, int(math.ceil((a.total_mb or 0) * 1e6 / avg)))
    span = a.span_minutes * 60
    base = a.base_time if a.base_time is not None else (int(time.time()) - span - 60) // 60 * 60
    needles = sl.needle_tokens(a.seed, a.needles)
    return dict(records=records, clients=a.clients, seed=a.seed, base_time=base, rate=records / float(span),
                group_size=a.group_size, needles=needles, stride=max(len(needles), records // a.plants),
                avg_sample=avg)


def run_ingest(a, plan, server):
    """Phases 2 and 3: release the workers (and the probe), wait for every ack, then for every
    record to be in a published split, then for merges to settle. Returns the measurements."""
    ctx = mp.get_context("fork")
    start_evt, results = ctx.Event(), ctx.Queue()
    creds = server.credentials
    procs = [ctx.Process(target=sl.data_worker, args=(plan, w, server.endpoint, creds["accessKeyId"],
                                                      creds["accessKeySecret"], start_evt, results))
             for w in range(a.clients)]
    for pr in procs:
        pr.start()
    probe = None if a.no_probe else sl.FreshnessProbe(sdk_client(server), a.probe_interval_ms / 1e3,
                                                      a.poll_interval_ms / 1e3)
    time.sleep(0.5)
    pid = server.proc.pid
    cpu0, t0 = proc_cpu_seconds(pid), time.time()
    start_evt.set()
    if probe:
        probe.start()
    outs, errors = [], []
    while len(outs) + len(errors) < len(procs):
        try:
            kind, _, payload = results.get(timeout=5)
            (outs if kind == "ok" else errors).append(payload)
        except Exception:  # queue.Empty: check the workers are still alive
            if server.proc.poll() is not None or not any(pr.is_alive() for pr in procs):
                errors.append("a worker or the server died (server exit %s)" % server.proc.poll())
        if errors:
            break
    for pr in procs:
        if errors:
            pr.terminate()
        pr.join()
    if probe:
        probe.stop_evt.set()
        probe.join()
    if errors:
        raise SystemExit("ingest failed: %s\n--- server stderr ---\n%s" % (errors[0], server.stderr_tail()))
    t_acked = max(o["last_ack"] for o in outs)
    expected = plan["records"] + (probe.acked if probe else 0)
    t_flushed, rows = sl.wait_flushed(server.data_dir, expected, timeout=a.flush_seconds * 10 + 600)
    cpu1 = proc_cpu_seconds(pid)
    print("ingest: acked after %.1fs, all %d records in splits after %.1fs; waiting for merges"
          % (t_acked - t0, rows, t_flushed - t0), file=sys.stderr)
    settle_s, settled = sl.wait_settled(server.data_dir, pid, timeout=a.settle_timeout)
    cpu2 = proc_cpu_seconds(pid)
    planted = {}
    for o in outs:
        for needle, times in o["planted"].items():
            planted.setdefault(needle, []).extend(times)
    total = lambda key: sum(o[key] for o in outs)  # noqa: E731
    return dict(wall_acked=t_acked - t0, wall_flushed=t_flushed - t0, cpu_flushed=cpu1 - cpu0,
                cpu_settled=cpu2 - cpu0, settle_s=settle_s, settled=settled, rows=rows, expected=expected,
                records=total("records"), kv=total("kv"), pb=total("pb"), wire=total("wire"),
                requests=total("requests"), retries=total("retries"), corpus=total("corpus"),
                client_cpu=total("cpu"), corpus_files=[o["corpus_path"] for o in outs], planted=planted,
                max_time=max(o["max_time"] for o in outs), probe=probe)


def measure_disk(data_dir):
    """Phase 6: sizes of the published splits' files (files of merged-away splits still waiting
    out their deletion grace are not counted; the whole objects/splits dir is given beside)."""
    splits = sl.published_splits(data_dir)
    parquet = tokens = 0
    files = []
    for s in splits:
        pq, tk = sl.split_files(data_dir, s)
        parquet += os.path.getsize(pq)
        tokens += os.path.getsize(tk)
        files.append(pq)
    return dict(splits=len(splits), parquet=parquet, tokens=tokens, files=files,
                server_raw=sum(s["raw_bytes"] for s in splits),
                levels=sorted(set(s["merge_level"] for s in splits)),
                dir_mb=dir_size_mb(os.path.join(data_dir, "objects", "splits")),
                wal_mb=dir_size_mb(os.path.join(data_dir, "wal")))


def measure_needle(a, client, ing, lo, hi):
    """Phase 4: Cairn's GetLogs for every planted needle vs ripgrep over the corpus.

    Each needle gets a warm median of --search-reps per side; the row reports the median over
    needles (one needle's time depends on where its newest matches landed). Dirty pages are
    written back first (`sync`), so the searches do not share the disk with the kernel
    flushing the gigabytes the ingest just wrote."""
    from aliyun.log import GetLogsRequest
    os.sync()
    time.sleep(2)
    per_needle = []
    for needle in sorted(ing["planted"]):
        planted = sorted(ing["planted"][needle])

        def search():
            return client.get_logs(GetLogsRequest(sl.PROJECT, sl.LOGSTORE, lo, hi, query=needle, line=100,
                                                  reverse=True))

        med, times, resp = sl.timed_median(search, a.search_reps)
        logs = resp.get_logs()
        got_times = sorted(int(log.get_time()) for log in logs)
        ok = (len(logs) == min(100, len(planted)) and got_times == planted[-len(logs):]
              and all(needle in " ".join(str(v) for v in log.get_contents().values()) for log in logs))
        one = dict(needle=needle, planted=len(planted), cairn=med, cairn_times=times,
                   check="ok" if ok else "MISMATCH (%s: %d rows)" % (needle, len(logs)),
                   server_ms=resp.get_elapsed_mills())
        if not a.no_rg:
            rg_med, rg_times, (count, last) = sl.timed_median(
                lambda: sl.rg_search(needle, ing["corpus_files"]), a.search_reps)
            rg_ok = count == len(planted) and all(needle.encode() in line for line in last)
            one.update(rg=rg_med, rg_times=rg_times,
                       rg_check="ok" if rg_ok else "MISMATCH (%s: %d lines)" % (needle, count))
        per_needle.append(one)
    checks = [one["check"] for one in per_needle if one["check"] != "ok"]
    out = dict(needles=per_needle, planted=min(one["planted"] for one in per_needle),
               cairn=statistics.median(one["cairn"] for one in per_needle),
               check=checks[0] if checks else "ok")
    if not a.no_rg:
        rg_checks = [one["rg_check"] for one in per_needle if one["rg_check"] != "ok"]
        out.update(rg=statistics.median(one["rg"] for one in per_needle),
                   rg_check=rg_checks[0] if rg_checks else "ok")
    return out


def measure_cairn_sql(a, client, lo, hi):
    """Phase 5, Cairn side: each aggregation, or the reason it is n/a."""
    from aliyun.log import LogException
    out = []
    for name, sls_sql, _ in sl.AGGREGATIONS:
        try:
            med, times, rows = sl.timed_median(lambda: sl.cairn_sql(client, sls_sql, lo, hi), a.sql_reps)
            out.append(dict(name=name, time=med, times=times, rows=rows))
        except LogException as exc:
            code = exc.get_error_code()
            why = "SQL refused (ParameterInvalid)" if code == "ParameterInvalid" else "error %s" % code
            out.append(dict(name=name, time=None, rows=None, why=why, message=exc.get_error_message()[:160]))
    return out


def measure_duckdb(a, files, expected):
    """Phase 5, peer side: DuckDB over the split files (run with the server stopped)."""
    peer = sl.DuckPeer(files)
    try:
        count = peer.query("SELECT count(*) FROM logs")[0][0]
        out = dict(version=peer.version, threads=peer.threads, count=count,
                   count_check="ok" if count == expected else "MISMATCH %d/%d" % (count, expected), aggs=[])
        for name, _, duck_sql in sl.AGGREGATIONS:
            med, times, rows = sl.timed_median(lambda: peer.query(duck_sql), a.sql_reps)
            out["aggs"].append(dict(name=name, time=med, times=times, rows=rows))
        return out
    finally:
        peer.close()


def agreement(i, cairn_rows, duck_rows, expected):
    """The cross-check of aggregation i: (1) identical status counts, (2) the same total."""
    if cairn_rows is None or duck_rows is None:
        return "-"
    if i == 0:
        c = {sl.null_key(r.get("status")): int(r["c"]) for r in cairn_rows}
        d = {sl.null_key(s): int(n) for s, n in duck_rows}
        return "counts equal" if c == d else "COUNTS DIFFER: %r vs %r" % (c, d)
    if i == 1:
        c, d = sum(int(r["c"]) for r in cairn_rows), sum(int(n) for _, n in duck_rows)
        if not c == d == expected:
            return "TOTALS DIFFER: Cairn %d, DuckDB %d, records %d" % (c, d, expected)
        same = {int(float(r["minute"])): int(r["c"]) for r in cairn_rows} == {int(m): int(n) for m, n in duck_rows}
        return "totals equal, %d minutes, per-minute counts %s" % (len(duck_rows), "equal" if same else "DIFFER")
    top_c = [sl.null_key(r.get("request_uri")) for r in cairn_rows[:3]]
    top_d = [sl.null_key(r[0]) for r in duck_rows[:3]]
    return "top 3 URLs %s" % ("agree" if top_c == top_d else "differ: Cairn %s, DuckDB %s" % (top_c, top_d))


def fmt_ms(seconds):
    return "n/a" if seconds is None else ("%.1f ms" % (seconds * 1e3) if seconds < 10 else "%.2f s" % seconds)


def met(ok):
    return "n/a" if ok is None else ("**yes**" if ok else "**no**")


def print_report(a, plan, ing, disk, needle, cairn_aggs, duck, rss, info):
    """Prints the markdown tables; returns the result checks that failed (empty if none)."""
    raw_mb = ing["kv"] / 1e6
    eff = raw_mb / ing["cpu_flushed"] if ing["cpu_flushed"] > 0 else float("nan")
    print("\n## Cairn storage and query benchmark — %s, rev %s\n" % (info["date"], info["rev"]))
    print("Machine: %s. Binary: `%s`. Command: `%s`\n" % (info["machine"], a.bin, info["command"]))
    print("Data: %d records, %.1f MB raw (keys+values; protobuf %.1f MB, lz4 on the wire %.1f MB, server raw size "
          "%.1f MB), %d PutLogs from %d clients (%d retries); corpus for rg %.1f MB in %d files; needles %s, "
          "~%d records each; times over %d min from %s.\n" % (
              ing["records"], raw_mb, ing["pb"] / 1e6, ing["wire"] / 1e6, disk["server_raw"] / 1e6,
              ing["requests"], a.clients, ing["retries"], ing["corpus"] / 1e6, len(ing["corpus_files"]),
              ", ".join(plan["needles"]), plan["records"] // plan["stride"], a.span_minutes,
              time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(plan["base_time"]))))
    rows = [("Ingest to searchable splits: raw MB per server CPU-s (incl. flush + token index)",
             "%.1f" % eff, "—", "—", "≥ 50", met(eff >= 50))]
    n = needle
    rg_ratio = n["rg"] / n["cairn"] if n.get("rg") else None
    rows.append(("Needle search, last 100 of ≥ %d, median over %d needles of warm medians of %d (%s)" % (
                     n["planted"], len(n["needles"]), a.search_reps, n["check"]),
                 fmt_ms(n["cairn"]), "rg: %s (%s)" % (fmt_ms(n["rg"]), n["rg_check"]) if n.get("rg") else "skipped",
                 "%.3g× faster" % rg_ratio if rg_ratio else "—", "≤ 100 ms, ≥ 100× rg",
                 met(n["cairn"] <= 0.1 and (rg_ratio is None or rg_ratio >= 100))))
    for i, (name, _, _) in enumerate(sl.AGGREGATIONS):
        c = cairn_aggs[i]
        d = duck["aggs"][i] if duck else None
        ratio = c["time"] / d["time"] if c["time"] is not None and d else None
        rows.append(("SQL (%d) %s, warm median of %d (%s)" % (
            i + 1, name, a.sql_reps, agreement(i, c["rows"], d and d["rows"], ing["expected"]) if c["rows"] is not None
            else c["why"]), fmt_ms(c["time"]), "DuckDB: %s" % fmt_ms(d["time"]) if d else "skipped",
            "%.2f× DuckDB's time" % ratio if ratio else "n/a", "≤ 1.5×", met(ratio <= 1.5 if ratio else None)))
    total_disk = disk["parquet"] + disk["tokens"]
    rows.append(("Bytes on disk per raw byte (parquet + tokens; splits: %d)" % disk["splits"],
                 "%.3f" % (total_disk / ing["kv"]), "—", "—", "≤ 0.15", met(total_disk / ing["kv"] <= 0.15)))
    rows.append(("… parquet only / tokens only", "%.3f / %.3f" % (disk["parquet"] / ing["kv"], disk["tokens"] / ing["kv"]),
                 "—", "—", "", ""))
    pr = ing["probe"]
    if pr and pr.latencies:
        lat = pr.latencies
        rows.append(("Freshness under load: PutLogs ack → visible in GetLogs, p50 / p99 / max (%d probes, %d "
                      "timeouts)" % (len(lat), pr.timeouts),
                      "%.0f / %.0f / %.0f ms" % (percentile(lat, 50) * 1e3, percentile(lat, 99) * 1e3, max(lat) * 1e3),
                      "—", "—", "p99 ≤ 1 s", met(percentile(lat, 99) <= 1.0 and not pr.timeouts)))
    print("| metric | Cairn | peer | ratio | target | met? |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| %s |" % " | ".join(r))

    print("\n| detail | value |\n|---|---|")
    details = [
        ("ingest wall, first PutLogs → last ack", "%.1f s: %.0f records/s, %.1f raw MB/s" % (
            ing["wall_acked"], ing["records"] / ing["wall_acked"], raw_mb / ing["wall_acked"])),
        ("… → every record in a published split", "%.1f s (server CPU %.1f s)" % (ing["wall_flushed"], ing["cpu_flushed"])),
        ("raw MB per server CPU-s, protobuf basis (as run-ingest)", "%.1f" % (ing["pb"] / 1e6 / ing["cpu_flushed"])),
        ("server CPU incl. merges until settled", "%.1f s (%.1f raw MB/CPU-s; settled %s after %.0f s more)" % (
            ing["cpu_settled"], raw_mb / ing["cpu_settled"], "yes" if ing["settled"] else "NO", ing["settle_s"])),
        ("client CPU (generation + protobuf + lz4 + corpus)", "%.1f s" % ing["client_cpu"]),
        ("splits after merges (merge levels)", "%d (%s); objects/splits dir incl. files in deletion grace %.1f MB; "
         "WAL dir %.1f MB" % (disk["splits"], disk["levels"], disk["dir_mb"], disk["wal_mb"])),
        ("records in splits / expected", "%d / %d (incl. %d probe records)" % (
            ing["rows"], ing["expected"], ing["expected"] - ing["records"])),
        ("server peak RSS (VmHWM)", "%.0f MB" % rss),
    ]
    for one in needle["needles"]:
        details.append(("needle `%s` times (Cairn / rg), s" % one["needle"], "%s / %s; server elapsedMillisecond %s" % (
            [round(t, 4) for t in one["cairn_times"]], [round(t, 3) for t in one.get("rg_times", [])],
            one["server_ms"])))
    if pr:
        details.append(("freshness probe", "%d puts, %d GetLogs polls, errors: %s" % (
            pr.acked, pr.polls, pr.errors[:2] or "none")))
    for c in cairn_aggs:
        if c["time"] is None:
            details.append(("SQL %s" % c["name"], "%s: %s" % (c["why"], c["message"])))
    if duck:
        details.append(("DuckDB", "%s, %s threads, in-process, server stopped; count(*) over the split files %d (%s)" % (
            duck["version"], duck["threads"], duck["count"], duck["count_check"])))
    for k, v in details:
        print("| %s | %s |" % (k, v))
    checks = [needle["check"], needle.get("rg_check", "ok"), duck["count_check"] if duck else "ok",
              "ok" if ing["rows"] == ing["expected"] else "MISMATCH"]
    checks += [agreement(i, c["rows"], duck and duck["aggs"][i]["rows"], ing["expected"])
               for i, c in enumerate(cairn_aggs)]
    return [c for c in checks if "MISMATCH" in c or "DIFFER" in c]


def main():
    a = parse_args()
    self_test_signing()
    if not os.access(a.bin, os.X_OK):
        raise SystemExit("cairn binary not found: %s (build it or set CAIRN_BIN)" % a.bin)
    if not a.no_rg and not shutil.which("rg"):
        raise SystemExit("ripgrep (rg) not found: apt-get install -y ripgrep, or pass --no-rg")
    if not a.no_duckdb:
        try:
            import duckdb  # noqa: F401
        except ImportError:
            raise SystemExit("duckdb not installed: pip install -r bench/requirements.txt (bench/run-storage does "
                             "it), or pass --no-duckdb")
    plan = make_plan(a)
    print("plan: %d records (~%.0f MB raw at %.1f B/record), %d clients, needles every %d records"
          % (plan["records"], plan["records"] * plan["avg_sample"] / 1e6, plan["avg_sample"], a.clients,
             plan["stride"]), file=sys.stderr)
    info = dict(date=time.strftime("%Y-%m-%d %H:%M"), rev=git_rev(), machine=sl.machine(),
                command=os.environ.get("CAIRN_BENCH_COMMAND") or shlex.join(sys.argv))
    plan["work_dir"] = tempfile.mkdtemp(prefix="cairn-bench-storage-corpus-", dir=a.work_dir)
    server = Server(a.bin, a.work_dir, a.keep,
                    extra_args=["--flush-seconds", str(a.flush_seconds), "--flush-mb", str(a.flush_mb)])
    duck = None
    try:
        server.start()
        client = sdk_client(server)
        client.create_project(sl.PROJECT, "storage benchmark")
        client.create_logstore(sl.PROJECT, sl.LOGSTORE, ttl=3650, shard_count=a.shards)
        create_index(client, sl.PROJECT, sl.LOGSTORE)  # full text + request_time double, status long, ...
        ing = run_ingest(a, plan, server)
        disk = measure_disk(server.data_dir)
        lo, hi = plan["base_time"] - 60, int(time.time()) + 60
        print("searching and aggregating", file=sys.stderr)
        needle = measure_needle(a, client, ing, lo, hi)
        cairn_aggs = measure_cairn_sql(a, client, lo, hi)
        rss = proc_peak_rss_mb(server.proc.pid)
        server.stop()
        if not a.no_duckdb:
            duck = measure_duckdb(a, disk["files"], ing["expected"])
    finally:
        server.stop()
        server.cleanup()
        if a.keep:
            print("kept %s and %s" % (server.data_dir, plan["work_dir"]), file=sys.stderr)
        else:
            shutil.rmtree(plan["work_dir"], ignore_errors=True)
    failed = print_report(a, plan, ing, disk, needle, cairn_aggs, duck, rss, info)
    if failed:
        raise SystemExit("result checks failed: %s" % "; ".join(failed))


if __name__ == "__main__":
    main()
