"""Consumption through the SDK: list_shards, cursors, pull_logs / pull_log, consumer groups
(create/list/update/delete, heart_beat, checkpoints) and the SDK's consumer library
(ConsumerWorker) reading every record exactly once and committing checkpoints."""

import threading
import time

import pytest
from aliyun.log import LogItem, PutLogsRequest
from aliyun.log.consumer import ConsumerProcessorBase, ConsumerWorker, CursorPosition, LogHubConfig
from aliyun.log.util import Util

from helpers import expect_error

LOGSTORE = "stream"


def put(client, project, prefix, count, topic="tp"):
    """PutLogs of `count` records with ids `<prefix>-<n>`; returns the ids in order."""
    ids = ["%s-%d" % (prefix, n) for n in range(count)]
    items = [LogItem(timestamp=int(time.time()), contents=[("id", i), ("body", "record " + i)]) for i in ids]
    client.put_logs(PutLogsRequest(project, LOGSTORE, topic, "10.0.0.7", items, logtags=[("host", "h1")]))
    return ids


def ids_of(response):
    return [dict((c.Key, c.Value) for c in log.Contents)["id"]
            for group in response.get_loggroup_list().LogGroups for log in group.Logs]


def read_all(client, project, cursor, count, **kwargs):
    """pull_logs from `cursor` until the cursor stops moving; returns (ids, last cursor)."""
    ids = []
    while True:
        response = client.pull_logs(project, LOGSTORE, 0, cursor, count=count, **kwargs)
        ids.extend(ids_of(response))
        if response.get_next_cursor() == cursor:
            assert response.get_loggroup_count() == 0
            return ids, cursor
        cursor = response.get_next_cursor()


def test_list_shards_and_cursors(client, project):
    client.create_logstore(project, LOGSTORE, ttl=30, shard_count=4)
    shards = client.list_shards(project, LOGSTORE).get_shards_info()
    assert len(shards) == 1, shards
    shard = shards[0]
    assert shard["shardID"] == 0 and shard["status"] == "readwrite"
    assert shard["inclusiveBeginKey"] == "0" * 32 and shard["exclusiveEndKey"] == "f" * 32
    begin = client.get_begin_cursor(project, LOGSTORE, 0).get_cursor()
    assert client.get_end_cursor(project, LOGSTORE, 0).get_cursor() == begin

    put(client, project, "a", 5)
    end = client.get_end_cursor(project, LOGSTORE, 0).get_cursor()
    assert end != begin
    assert client.get_begin_cursor(project, LOGSTORE, 0).get_cursor() == begin
    now = int(time.time())
    assert client.get_cursor(project, LOGSTORE, 0, now - 3600).get_cursor() == begin
    assert client.get_cursor(project, LOGSTORE, 0, now + 3600).get_cursor() == end
    # The SDK decodes cursors itself (base64 of a number) to find the previous one's time.
    previous = client.get_previous_cursor_time(project, LOGSTORE, 0, end).get_cursor_time()
    assert abs(previous - now) <= 5
    assert abs(client.get_cursor_time(project, LOGSTORE, 0, begin).get_cursor_time() - now) <= 5

    expect_error(lambda: client.get_cursor(project, LOGSTORE, 1, "begin"), "ShardNotExist", status=404)
    expect_error(lambda: client.pull_logs(project, LOGSTORE, 0, "bm90LWEtY3Vyc29y", count=10),
                 "InvalidCursor", status=400)


def test_pull_logs_reads_every_record_once_in_order(client, project):
    client.create_logstore(project, LOGSTORE, ttl=30, shard_count=2)
    expected = []
    for n in range(6):
        # Alternating topics keep each PutLogs its own LogGroup.
        expected += put(client, project, "b%d" % n, 8, topic="t%d" % (n % 2))
    begin = client.get_begin_cursor(project, LOGSTORE, 0).get_cursor()
    ids, last = read_all(client, project, begin, 1)
    assert ids == expected
    assert last == client.get_end_cursor(project, LOGSTORE, 0).get_cursor()

    first = client.pull_logs(project, LOGSTORE, 0, begin, count=2)
    assert first.get_loggroup_count() == 2 and first.get_log_count() == 16
    group = first.get_loggroup_list().LogGroups[0]
    assert (group.Topic, group.Source) == ("t0", "10.0.0.7")
    assert [(t.Key, t.Value) for t in group.LogTags] == [("host", "h1")]
    flat = first.get_flatten_logs_json()
    assert flat[0]["__topic__"] == "t0" and flat[0]["__tag__:host"] == "h1"

    # Every response encoding the SDK can ask for, and none.
    assert read_all(client, project, begin, 1000, accept_compress_type="zstd")[0] == expected
    assert read_all(client, project, begin, 1000, compress=False)[0] == expected

    # pull_log: a time range read through end_cursor.
    now = int(time.time())
    pulled = []
    for response in client.pull_log(project, LOGSTORE, 0, now - 600, now + 600, batch_size=3):
        pulled += ids_of(response)
    assert pulled == expected


def test_consumer_group_crud_heartbeat_and_checkpoints(client, project):
    client.create_logstore(project, LOGSTORE, ttl=30, shard_count=2)
    put(client, project, "c", 5)
    client.create_consumer_group(project, LOGSTORE, "readers", 30)
    expect_error(lambda: client.create_consumer_group(project, LOGSTORE, "readers", 30),
                 "ConsumerGroupAlreadyExist")
    groups = client.list_consumer_group(project, LOGSTORE).get_consumer_groups()
    assert [(g.get_consumer_group_name(), g.get_timeout(), g.is_in_order()) for g in groups] == [
        ("readers", 30, False)]
    client.update_consumer_group(project, LOGSTORE, "readers", timeout=40, in_order=True)
    client.update_consumer_group(project, LOGSTORE, "readers", timeout=45)
    groups = client.list_consumer_group(project, LOGSTORE).get_consumer_groups()
    assert [(g.get_timeout(), g.is_in_order()) for g in groups] == [(45, True)]

    assert client.heart_beat(project, LOGSTORE, "readers", "c1").get_shards() == [0]
    assert client.heart_beat(project, LOGSTORE, "readers", "c2", [0]).get_shards() == []
    assert client.heart_beat(project, LOGSTORE, "readers", "c1", [0]).get_shards() == [0]

    points = client.get_check_point(project, LOGSTORE, "readers").get_consumer_group_check_points()
    assert points == [{"shard": 0, "checkpoint": "", "updateTime": 0, "consumer": ""}]
    end = client.get_end_cursor(project, LOGSTORE, 0).get_cursor()
    expect_error(lambda: client.update_check_point(project, LOGSTORE, "readers", 0, end, consumer="c2",
                                                   force_success=False), "ConsumerNotMatch")
    client.update_check_point(project, LOGSTORE, "readers", 0, end, consumer="c1", force_success=False)
    point = client.get_check_point(project, LOGSTORE, "readers", 0).get_consumer_group_check_points()[0]
    assert (point["shard"], point["checkpoint"], point["consumer"]) == (0, end, "c1")
    # forceSuccess (the SDK's default) saves whoever sends it.
    begin = client.get_begin_cursor(project, LOGSTORE, 0).get_cursor()
    client.update_check_point(project, LOGSTORE, "readers", 0, begin, consumer="c2")
    fixed = client.get_check_point_fixed(project, LOGSTORE, "readers").get_consumer_group_check_points()
    assert fixed[0]["checkpoint"] == begin and "checkpoint_previous_cursor_time" in fixed[0]
    expect_error(lambda: client.get_check_point(project, LOGSTORE, "readers", 3), "ShardNotExist")

    client.delete_consumer_group(project, LOGSTORE, "readers")
    assert client.list_consumer_group(project, LOGSTORE).get_consumer_groups() == []
    expect_error(lambda: client.get_check_point(project, LOGSTORE, "readers"), "ConsumerGroupNotExist",
                 status=404)
    expect_error(lambda: client.heart_beat(project, LOGSTORE, "readers", "c1"), "ConsumerGroupNotExist")


class Collector(ConsumerProcessorBase):
    """Collects every record id it is handed and checkpoints after each batch."""

    def __init__(self, sink, lock):
        super(Collector, self).__init__()
        self.sink = sink
        self.lock = lock

    def process(self, log_groups, check_point_tracker):
        with self.lock:
            for group in log_groups.LogGroups:
                for log in group.Logs:
                    self.sink.append(dict((c.Key, c.Value) for c in log.Contents)["id"])
        self.save_checkpoint(check_point_tracker, force=True)


def run_worker(cairn_server, project, consumer, sink, expected_count, timeout=30):
    """Runs a ConsumerWorker until `sink` holds `expected_count` ids, then stops it cleanly."""
    creds = cairn_server.credentials
    option = LogHubConfig(cairn_server.endpoint, creds["accessKeyId"], creds["accessKeySecret"], project,
                          LOGSTORE, "workers", consumer, cursor_position=CursorPosition.BEGIN_CURSOR,
                          heartbeat_interval=1, data_fetch_interval=0.2)
    lock = threading.Lock()
    worker = ConsumerWorker(Collector, option, args=(sink, lock))
    worker.start()
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            with lock:
                if len(sink) >= expected_count:
                    break
            time.sleep(0.1)
    finally:
        worker.shutdown()
        worker.join(timeout=30)
    assert not worker.is_alive(), "the consumer worker did not stop"


def test_consumer_worker_reads_every_record_once_and_commits_checkpoints(cairn_server, client, project,
                                                                         monkeypatch):
    # The worker builds its own LogClient; make it see "127.0.0.1:PORT" as an IP (reference 1.5).
    monkeypatch.setattr(Util, "is_row_ip", staticmethod(lambda endpoint: True))
    client.create_logstore(project, LOGSTORE, ttl=30, shard_count=2)
    expected = []
    for n in range(4):
        expected += put(client, project, "w%d" % n, 25, topic="t%d" % (n % 2))

    first = []
    run_worker(cairn_server, project, "worker-1", first, len(expected))
    assert first == expected, "every record exactly once, in order"
    end = client.get_end_cursor(project, LOGSTORE, 0).get_cursor()
    point = client.get_check_point(project, LOGSTORE, "workers", 0).get_consumer_group_check_points()[0]
    assert point["checkpoint"] == end
    groups = client.list_consumer_group(project, LOGSTORE).get_consumer_groups()
    assert [(g.get_consumer_group_name(), g.get_timeout()) for g in groups] == [("workers", 2)]

    # A second consumer of the group takes the shard over once worker-1's heartbeats lapse, and
    # resumes from the checkpoint: it sees only what was written since.
    more = put(client, project, "late", 10)
    second = []
    run_worker(cairn_server, project, "worker-2", second, len(more))
    assert second == more
    point = client.get_check_point(project, LOGSTORE, "workers", 0).get_consumer_group_check_points()[0]
    assert point["checkpoint"] == client.get_end_cursor(project, LOGSTORE, 0).get_cursor()
    assert point["consumer"] == "worker-2"
