"""Open format: records written through the SDK land in Parquet split files under the
server's data directory, and DuckDB (a different engine, from PyPI) reads those files as they
are: the rows, the columns named after the keys, the record times and offsets."""

import glob
import os
import sqlite3
import time
import uuid

import duckdb
from aliyun.log import LogItem, PutLogsRequest


def split_files(data_dir):
    return glob.glob(os.path.join(data_dir, "objects", "splits", "*", "*.parquet"))


def test_a_split_opens_in_duckdb_as_it_is(client, project, cairn_server):
    client.create_logstore(project, "open", ttl=30, shard_count=1)
    marker = "duck-" + uuid.uuid4().hex[:8]
    now = int(time.time())
    items = [
        LogItem(timestamp=now, contents=[
            ("id", "%s-%d" % (marker, n)),
            ("status", "500" if n % 4 == 0 else "200"),
            ("latency", str(n)),
        ])
        for n in range(200)
    ]
    client.put_logs(PutLogsRequest(project, "open", "topic-a", "10.1.1.1", items, logtags=[("host", "h7")]))

    query = (
        "SELECT count(*) AS rows, count(*) FILTER (WHERE status = '500') AS errors, "
        "sum(CAST(latency AS BIGINT)) AS latency, min(__time__) AS first, "
        "min(__offset__) AS low, max(__offset__) AS high, any_value(__topic__) AS topic, "
        "any_value(\"__tag__:host\") AS host "
        "FROM read_parquet(?, union_by_name = true) WHERE id LIKE ?"
    )
    deadline = time.time() + 20
    row = None
    while time.time() < deadline:
        files = split_files(cairn_server.data_dir)
        if files:
            row = duckdb.execute(query, [files, marker + "-%"]).fetchone()
            if row[0] == 200:
                break
        time.sleep(0.25)
    assert row is not None, "no split file appeared"
    rows, errors, latency, first, low, high, topic, host = row
    assert rows == 200
    assert errors == 50
    assert latency == sum(range(200))
    assert first == now
    assert high - low == 199, "offsets are contiguous"
    assert topic == "topic-a"
    assert host == "h7"


def published_splits(data_dir, project, logstore):
    """(split id, logstore id, rows, merge level) of a logstore's published splits, from the
    server's catalog."""
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(data_dir, "meta.sqlite"), uri=True, timeout=10)
    try:
        return con.execute(
            "SELECT s.split_id, s.logstore_id, s.row_count, s.merge_level FROM splits s JOIN logstores l "
            "ON l.id = s.logstore_id WHERE l.project = ? AND l.name = ?",
            (project, logstore)).fetchall()
    finally:
        con.close()


def wait_for(condition, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    return condition()


def test_a_merged_split_opens_in_duckdb_as_it_is(client, project, cairn_server):
    """Four flushed splits with different keys are merged by copying their column chunks;
    the merged file is still plain Parquet: every row, NULL where a split lacked a key."""
    client.create_logstore(project, "open-merged", ttl=30, shard_count=1)
    now = int(time.time())
    keys = ["alpha", "beta", "gamma", "delta"]
    for part, key in enumerate(keys):
        items = [LogItem(timestamp=now, contents=[("part", str(part)), (key, "%s-%d" % (key, n))])
                 for n in range(300)]
        client.put_logs(PutLogsRequest(project, "open-merged", "", "", items))
        # Each part becomes a split of its own before the next is sent.
        flushed = wait_for(lambda: sum(split[2] for split in published_splits(
            cairn_server.data_dir, project, "open-merged")) == 300 * (part + 1))
        assert flushed, "part %d was not flushed" % part
    merged = wait_for(lambda: [split for split in published_splits(
        cairn_server.data_dir, project, "open-merged") if split[3] >= 1])
    assert merged, "the four splits were not merged"
    split_id, logstore_id, row_count, _ = merged[0]
    assert row_count == 1200
    path = os.path.join(cairn_server.data_dir, "objects", "splits", str(logstore_id), split_id + ".parquet")
    row = duckdb.execute(
        "SELECT count(*), count(alpha), count(beta), count(gamma), count(delta), "
        "max(__offset__) - min(__offset__), count(DISTINCT part), "
        "count(*) FILTER (WHERE part = '2' AND gamma LIKE 'gamma-%' AND alpha IS NULL) "
        "FROM read_parquet(?)", [path]).fetchone()
    assert row == (1200, 300, 300, 300, 300, 1199, 4, 300)
