"""PutLogs, GetLogs (v1 and v2), queries, paging, histograms and topics, through LogClient."""

import time

import pytest
from aliyun.log import GetHistogramsRequest, GetLogsRequest, ListTopicsRequest, LogItem, PutLogsRequest

from helpers import delete_project_quietly, expect_error, index_config, unique_name, wait_for_count

LOGSTORE = "events"

# (status, latency, user, msg); log i gets time T0 + i and topic/source/tags of its group.
ROWS = [
    ("200", "0.010", "alice", "GET /index.html served"),
    ("404", "0.002", "bob", "GET /missing not found"),
    ("500", "1.500", "carol", "upstream connection refused by backend"),
    ("503", "2.250", "bob", "upstream timeout after retries"),
    ("201", "0.120", "alice", "POST /orders created"),
    ("200", "0.050", "dave", "refused connection was retried"),
    ("302", "0.004", "alice", "redirect to abcdef page"),
    ("401", "0.030", "erin", "abcxyz token rejected"),
    # second group (topic "worker")
    ("200", "0.300", "bob", "job finished ok"),
    ("500", "5.000", "alice", "job crashed: connection refused"),
]
WEB = range(0, 8)
WORKER = range(8, 10)
GROUPS = {
    "web": dict(source="10.0.0.1", tags=[("env", "prod"), ("team", "core")]),
    "worker": dict(source="10.0.0.2", tags=[("env", "staging")]),
}


def topic_of(i):
    return "web" if i in WEB else "worker"


class Dataset(object):
    def __init__(self, project, t0):
        self.project = project
        self.logstore = LOGSTORE
        self.t0 = t0
        self.frm = t0
        self.to = t0 + 60


@pytest.fixture(scope="module")
def data(client):
    project = unique_name("ct-logs")
    client.create_project(project, "put/get logs")
    client.create_logstore(project, LOGSTORE, ttl=30, shard_count=2)
    client.create_index(project, LOGSTORE,
                        index_config({"status": "long", "latency": "double", "msg": "text", "user": "text"}))
    # A whole minute, an hour ago: inside the TTL and away from "now".
    t0 = (int(time.time()) - 3600) // 60 * 60
    for topic, rng in (("web", WEB), ("worker", WORKER)):
        items = []
        for i in rng:
            status, latency, user, msg = ROWS[i]
            items.append(LogItem(timestamp=t0 + i, time_nano_part=i * 1000 + 7,
                                 contents=[("status", status), ("latency", latency),
                                           ("user", user), ("msg", msg)]))
        g = GROUPS[topic]
        client.put_logs(PutLogsRequest(project, LOGSTORE, topic=topic, source=g["source"],
                                       logitems=items, logtags=g["tags"]))
    wait_for_count(client, project, LOGSTORE, t0, t0 + 60, len(ROWS))
    yield Dataset(project, t0)
    delete_project_quietly(client, project)


@pytest.fixture(params=["v2", "v1"])
def api(request, client, client_v1):
    """GetLogs through the SDK default (v2: POST .../logs) and through v1 (GET ?type=log)."""
    return client if request.param == "v2" else client_v1


def ids(data, resp):
    """Indexes into ROWS of the returned logs, in returned order."""
    out = []
    for log in resp.get_logs():
        out.append(log.get_time() - data.t0)
    return out


def query(api, data, q, **kw):
    frm = kw.pop("frm", data.frm)
    to = kw.pop("to", data.to)
    resp = api.get_log(data.project, data.logstore, frm, to, query=q, **kw)
    assert resp.is_completed(), "progress %r" % resp.get_meta().get_progress()
    assert resp.get_count() == len(resp.get_logs())
    return resp


def assert_log(data, log, i):
    status, latency, user, msg = ROWS[i]
    topic = topic_of(i)
    g = GROUPS[topic]
    assert log.get_time() == data.t0 + i
    assert log.get_source() == g["source"]
    c = log.get_contents()
    expected = {"status": status, "latency": latency, "user": user, "msg": msg, "__topic__": topic}
    for k, v in g["tags"]:
        expected["__tag__:" + k] = v
    for k, v in expected.items():
        assert c.get(k) == v, "log %d: %s = %r, expected %r (contents %r)" % (i, k, c.get(k), v, c)
    unexpected = [k for k in c if k not in expected and not k.startswith("__")]
    assert not unexpected, "log %d has unexpected fields %r" % (i, unexpected)


def test_get_all_contents(api, data):
    resp = query(api, data, "*")
    assert sorted(ids(data, resp)) == list(range(len(ROWS)))
    for log in resp.get_logs():
        assert_log(data, log, log.get_time() - data.t0)


def test_get_logs_request_object(client, client_v1, data):
    """client.get_logs(GetLogsRequest) - the same call, once per API version."""
    for c in (client, client_v1):
        req = GetLogsRequest(data.project, data.logstore, data.frm, data.to, topic="worker",
                             query="*", line=10, offset=0, reverse=False)
        resp = c.get_logs(req)
        assert resp.is_completed()
        assert ids(data, resp) == [8, 9]
        for log in resp.get_logs():
            assert_log(data, log, log.get_time() - data.t0)


def test_no_query_means_everything(api, data):
    resp = api.get_log(data.project, data.logstore, data.frm, data.to)
    assert resp.get_count() == len(ROWS)


def test_time_range_is_half_open(api, data):
    resp = query(api, data, "*", frm=data.t0 + 2, to=data.t0 + 5)
    assert sorted(ids(data, resp)) == [2, 3, 4]
    resp = query(api, data, "*", frm=data.t0 + 100, to=data.t0 + 200)
    assert resp.get_count() == 0 and resp.get_logs() == []


def test_topic_parameter(api, data):
    resp = query(api, data, "*", topic="web")
    assert sorted(ids(data, resp)) == list(WEB)
    resp = query(api, data, "*", topic="worker")
    assert sorted(ids(data, resp)) == list(WORKER)


QUERIES = [
    # full-text term, case-insensitive by default
    ("timeout", [3]),
    ("TIMEOUT", [3]),
    ("index.html", [0]),
    # key: value / key:value
    ("user: alice", [0, 4, 6, 9]),
    ("user:bob", [1, 3, 8]),
    ("status: 200", [0, 5, 8]),
    # numeric comparisons on long/double fields
    ("status > 400", [1, 2, 3, 7, 9]),
    ("status >= 500", [2, 3, 9]),
    ("status < 201", [0, 5, 8]),
    ("latency > 1.0", [2, 3, 9]),
    ("latency <= 0.01", [0, 1, 6]),
    ("status in [400 500)", [1, 7]),
    # boolean operators and parentheses
    ("user: alice and status: 200", [0]),
    ("user: bob or user: carol", [1, 2, 3, 8]),
    ("user: alice not status: 200", [4, 6, 9]),
    ("(user: alice or user: bob) and status >= 400", [1, 3, 9]),
    ("upstream and not timeout", [2]),
    # words in any order vs phrase. In SLS, double quotes only make a literal (e.g. of a keyword
    # such as "and"); a quoted string with several words is NOT a phrase search: only #"..." is
    # (SLS "Phrase search" doc: #"abc def" first runs the non-phrase "abc def", then filters).
    ("connection and refused", [2, 5, 9]),
    ("connection refused", [2, 5, 9]),
    ('"connection refused"', [2, 5, 9]),
    ('msg: "connection refused"', [2, 5, 9]),
    ('#"connection refused"', [2, 9]),
    ('msg: #"connection refused"', [2, 9]),
    # prefix
    ("abc*", [6, 7]),
    ("msg: time*", [3]),
    ("user: ali*", [0, 4, 6, 9]),
    # reserved fields
    ("__topic__: worker", [8, 9]),
    ("__source__: 10.0.0.2", [8, 9]),
    ("__tag__:env: staging", [8, 9]),
    # no hit
    ("nosuchwordanywhere", []),
]


@pytest.mark.parametrize("q,expected", QUERIES, ids=[q for q, _ in QUERIES])
def test_query(api, data, q, expected):
    resp = query(api, data, q)
    assert sorted(ids(data, resp)) == expected, "query %r" % q


def test_paging_and_order(api, data):
    # reverse=False: oldest first.
    resp = query(api, data, "*", size=3, offset=0, reverse=False)
    assert ids(data, resp) == [0, 1, 2]
    resp = query(api, data, "*", size=3, offset=2, reverse=False)
    assert ids(data, resp) == [2, 3, 4]
    resp = query(api, data, "*", size=4, offset=8, reverse=False)
    assert ids(data, resp) == [8, 9]
    resp = query(api, data, "*", size=3, offset=10, reverse=False)
    assert ids(data, resp) == []
    # reverse=True: newest first.
    resp = query(api, data, "*", size=3, offset=0, reverse=True)
    assert ids(data, resp) == [9, 8, 7]
    resp = query(api, data, "*", size=3, offset=3, reverse=True)
    assert ids(data, resp) == [6, 5, 4]
    # paging over a filtered result
    resp = query(api, data, "user: alice", size=2, offset=1, reverse=False)
    assert ids(data, resp) == [4, 6]
    # walking all pages gives every log exactly once
    seen = []
    for off in range(0, 12, 4):
        seen += ids(data, query(api, data, "*", size=4, offset=off, reverse=True))
    assert seen == list(reversed(range(len(ROWS))))


def test_get_log_all(client, data):
    total = []
    for resp in client.get_log_all(data.project, data.logstore, data.frm, data.to, query="status >= 400"):
        total += ids(data, resp)
    assert sorted(total) == [1, 2, 3, 7, 9]


def test_histograms(client, data):
    for q, expected in (("*", list(range(len(ROWS)))), ("status >= 500", [2, 3, 9]), ("nothing-here", [])):
        resp = client.get_histograms(GetHistogramsRequest(data.project, data.logstore, data.frm, data.to,
                                                          query=q))
        assert resp.is_completed(), resp.progress
        hist = resp.get_histograms()
        assert hist, "no buckets for %r" % q
        assert resp.get_total_count() == len(expected)
        assert sum(h.get_count() for h in hist) == len(expected)
        # buckets are contiguous, ordered, and cover [from, to)
        assert hist[0].get_from() <= data.frm
        assert hist[-1].get_to() >= data.to
        for a, b in zip(hist, hist[1:]):
            assert a.get_to() == b.get_from()
        for h in hist:
            assert h.is_completed()
            want = sum(1 for i in expected if h.get_from() <= data.t0 + i < h.get_to())
            assert h.get_count() == want, "bucket [%s,%s) of %r" % (h.get_from(), h.get_to(), q)


def test_histograms_with_topic(client, data):
    resp = client.get_histograms(GetHistogramsRequest(data.project, data.logstore, data.frm, data.to,
                                                      topic="worker", query="*"))
    assert resp.get_total_count() == 2


def test_list_topics(client, data):
    resp = client.list_topics(ListTopicsRequest(data.project, data.logstore, line=100))
    assert sorted(resp.get_topics()) == ["web", "worker"]
    assert int(resp.get_count()) == 2


def test_time_ns_is_accepted(client, data):
    # Log 3 was sent with Time_ns = 3007: GetLogs must still place it at second T0+3. If the
    # server surfaces the nanosecond part, it is as __time_ns_part__.
    resp = client.get_log(data.project, data.logstore, data.t0 + 3, data.t0 + 4, query="*")
    assert ids(data, resp) == [3]
    ns = resp.get_logs()[0].get_contents().get("__time_ns_part__")
    if ns is not None:
        assert int(ns) == 3007


def test_put_to_missing_logstore(client, data):
    req = PutLogsRequest(data.project, "no-such-store", topic="", source="1.2.3.4",
                         logitems=[LogItem(contents=[("k", "v")])])
    expect_error(lambda: client.put_logs(req), "LogStoreNotExist")


def test_put_variants(client, project):
    """Every way the SDK can send PutLogs: lz4 (default), zstd, uncompressed, hash-key route, raw."""
    from aliyun.log.logclient import LogGroup  # the SDK's LogGroupRaw
    client.create_logstore(project, "variants", ttl=30, shard_count=2)
    client.create_index(project, "variants", index_config({"via": "text"}))
    t = int(time.time()) - 60

    def item(via):
        return LogItem(timestamp=t, contents=[("via", via), ("payload", "x" * 300)])

    client.put_logs(PutLogsRequest(project, "variants", "t", "s", [item("lz4")]))
    client.put_logs(PutLogsRequest(project, "variants", "t", "s", [item("zstd")], compress_type="zstd"))
    client.put_logs(PutLogsRequest(project, "variants", "t", "s", [item("plain")], compress=False))
    client.put_logs(PutLogsRequest(project, "variants", "t", "s", [item("hashkey")],
                                   hashKey="0123456789abcdef0123456789abcdef"))
    group = LogGroup()
    group.Topic = "t"
    group.Source = "s"
    log = group.Logs.add()
    log.Time = t
    content = log.Contents.add()
    content.Key = "via"
    content.Value = b"raw"
    client.put_log_raw(project, "variants", group)

    resp = wait_for_count(client, project, "variants", t - 1, t + 1, 5)
    got = sorted(l.get_contents()["via"] for l in resp.get_logs())
    assert got == ["hashkey", "lz4", "plain", "raw", "zstd"]
    for l in resp.get_logs():
        if l.get_contents()["via"] != "raw":
            assert l.get_contents()["payload"] == "x" * 300
    for via in got:
        r = client.get_log(project, "variants", t - 1, t + 1, query="via: " + via)
        assert [l.get_contents()["via"] for l in r.get_logs()] == [via]


def test_unicode_and_non_utf8_values(client, client_v1, project):
    """The SDK's put_logs serialises values as proto `bytes` (LogGroupRaw), so it can send
    non-UTF-8 values. They must be accepted and not break reads: JSON cannot carry raw bytes, so
    GetLogs returns them lossily, but the valid UTF-8 around the bad bytes must survive."""
    client.create_logstore(project, "bytes", ttl=30, shard_count=1)
    client.create_index(project, "bytes", index_config({"marker": "text"}))
    t = int(time.time()) - 60
    unicode_value = "h\u00e9llo \u2713 \u65e5\u672c\u8a9e \U0001F600"
    items = [
        LogItem(timestamp=t, contents=[("marker", "unicode"), ("value", unicode_value)]),
        LogItem(timestamp=t, contents=[("marker", "binary"), ("value", b"ok-\xff\xfe\x80-end")]),
    ]
    client.put_logs(PutLogsRequest(project, "bytes", "", "s", items))
    wait_for_count(client, project, "bytes", t, t + 1, 2)

    r = client.get_log(project, "bytes", t, t + 1, query="marker: unicode")
    assert [l.get_contents()["value"] for l in r.get_logs()] == [unicode_value]

    r = client.get_log(project, "bytes", t, t + 1, query="marker: binary")
    assert r.get_count() == 1
    value = r.get_logs()[0].get_contents()["value"]
    assert value.startswith("ok-") and value.endswith("-end"), repr(value)

    r = client_v1.get_log(project, "bytes", t, t + 1, query="marker: binary")
    value = r.get_logs()[0].get_contents()["value"]
    assert value.startswith("ok-") and value.endswith("-end"), repr(value)


def test_non_utf8_exact_via_pull_logs(client, project):
    """PullLogs returns protobuf, which can carry the exact bytes that were put."""
    client.create_logstore(project, "pull", ttl=30, shard_count=1)
    raw = b"ok-\xff\xfe\x80-end"
    client.put_logs(PutLogsRequest(project, "pull", "tp", "9.9.9.9",
                                   [LogItem(timestamp=int(time.time()), contents=[("value", raw), ("n", "1")])],
                                   logtags=[("tk", "tv")]))
    shards = client.list_shards(project, "pull").get_shards_info()
    assert len(shards) == 1
    shard = shards[0]["shardID"]
    cursor = client.get_begin_cursor(project, "pull", shard).get_cursor()
    got = []
    deadline = time.time() + 10
    while not got and time.time() < deadline:
        resp = client.pull_logs(project, "pull", shard, cursor, count=10)
        for group in resp.get_loggroup_list().LogGroups:
            assert group.Topic == "tp"
            assert group.Source == "9.9.9.9"
            assert [(t.Key, t.Value) for t in group.LogTags if not t.Key.startswith("__")] == [("tk", "tv")]
            for log in group.Logs:
                got.append({c.Key: c.Value for c in log.Contents})
        if not got:
            time.sleep(0.3)
    assert len(got) == 1
    value = got[0]["value"]
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    assert value == raw
