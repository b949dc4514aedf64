"""Open format: records written through the SDK land in Parquet split files under the
server's data directory, and DuckDB (a different engine, from PyPI) reads those files as they
are: the rows, the columns named after the keys, the record times and offsets."""

import glob
import os
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
