#!/usr/bin/env python3
"""DuckDB peer of the ingest benchmark: load NDJSON files into a table of an on-disk database.

Run by bench/ingest.py as a separate process (so its CPU is measured alone); usable by hand too:

  python bench/peer_duckdb.py --db /tmp/x.duckdb --columns cols.json a.ndjson a.ndjson b.ndjson

Timed section = connect .. close: open (create) the database file, `CREATE TABLE logs AS SELECT *
FROM read_json(<first file>)`, `INSERT INTO logs SELECT * FROM read_json(<file>)` for every further
file (each statement is its own autocommitted transaction), `CHECKPOINT` (table data durable in the
database file, fsynced), close. CPU is this process's user+sys (all DuckDB threads) from
getrusage(RUSAGE_SELF) over that section. Untimed afterwards: reopen read-only, count the rows, size
the files. Prints one JSON object on stdout.
"""

import argparse
import json
import os
import resource
import sys
import time


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def read_json_sql(path, columns):
    cols = "{" + ", ".join("%s: %s" % (sql_str(k), sql_str(t)) for k, t in columns) + "}"
    return "read_json(%s, format='newline_delimited', columns=%s)" % (sql_str(path), cols)


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True, help="database file to create (must not exist)")
    p.add_argument("--columns", required=True,
                   help="JSON file: [[name, duckdb type], ...], the table's columns in order")
    p.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: DuckDB's, = cores)")
    p.add_argument("files", nargs="+", help="NDJSON files, loaded in this order (repeat a file to load it again)")
    a = p.parse_args()

    import duckdb  # imported before the timed section

    with open(a.columns) as f:
        columns = [tuple(c) for c in json.load(f)]
    if os.path.exists(a.db):
        raise SystemExit("database file exists: %s" % a.db)

    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    con = duckdb.connect(a.db)
    if a.threads:
        con.execute("SET threads = %d" % a.threads)
    con.execute("CREATE TABLE logs AS SELECT * FROM %s" % read_json_sql(a.files[0], columns))
    for path in a.files[1:]:
        con.execute("INSERT INTO logs SELECT * FROM %s" % read_json_sql(path, columns))
    con.execute("CHECKPOINT")
    con.close()
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0

    con = duckdb.connect(a.db, read_only=True)
    rows = con.execute("SELECT count(*) FROM logs").fetchone()[0]
    threads = a.threads or con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()
    db_bytes = os.path.getsize(a.db)
    wal = a.db + ".wal"
    wal_bytes = os.path.getsize(wal) if os.path.exists(wal) else 0
    json.dump(dict(wall=wall, cpu=cpu, rows=rows, db_bytes=db_bytes, wal_bytes=wal_bytes,
                   peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                   statements=len(a.files) + 1, threads=threads, version=duckdb.__version__), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
