"""`search | SQL` through the SDK's get_logs (v2 and v1): aggregations over records in
Parquet splits and in memory together, typed keys from the index config, the search part
narrowing the rows, time bucketing, approx_percentile, and clear errors for bad SQL."""

import collections
import time

from aliyun.log import GetLogsRequest, LogItem, PutLogsRequest

from helpers import expect_error, index_config

URLS = ["/api/a", "/api/b", "/api/c"]


def records(start, count, now):
    items = []
    for n in range(start, start + count):
        items.append(LogItem(timestamp=now - (n % 5) * 60, contents=[
            ("status", "500" if n % 10 == 0 else "200"),
            ("url", URLS[n % 3]),
            ("latency", str(n)),
            ("body", '{"user": {"id": "u%d"}}' % (n % 4)),
        ]))
    return items


def rows(client, project, query, now):
    request = GetLogsRequest(project, "sql", now - 3600, now + 60, query=query)
    response = client.get_logs(request)
    return [log.get_contents() for log in response.get_logs()]


def test_search_then_sql_over_splits_and_memory(client, client_v1, project):
    client.create_logstore(project, "sql", ttl=30, shard_count=1)
    client.create_index(project, "sql", index_config({"latency": "long", "status": "text", "url": "text"}))
    now = int(time.time())
    client.put_logs(PutLogsRequest(project, "sql", "", "", records(0, 150, now)))
    time.sleep(2.5)  # the server flushes after a second: these are in a split now
    client.put_logs(PutLogsRequest(project, "sql", "", "", records(150, 50, now)))

    by_status = rows(client, project, "* | SELECT status, count(*) AS c GROUP BY status ORDER BY c DESC", now)
    assert by_status == [{"status": "200", "c": "180"}, {"status": "500", "c": "20"}]
    assert rows(client_v1, project, "* | select status, count(*) as c group by status order by c desc", now) \
        == by_status

    # The search narrows the rows; typed keys compare as numbers.
    assert rows(client, project, "status: 500 | SELECT count(*) AS c, max(latency) AS top", now) \
        == [{"c": "20", "top": "190"}]
    assert rows(client, project, "* | SELECT count(*) AS c WHERE latency >= 100", now) == [{"c": "100"}]

    minutes = rows(client, project,
                   "* | SELECT __time__ - __time__ % 60 AS minute, count(*) AS c GROUP BY minute ORDER BY minute",
                   now)
    expected = collections.Counter((now - (n % 5) * 60) // 60 * 60 for n in range(200))
    assert [(int(r["minute"]), int(r["c"])) for r in minutes] == sorted(expected.items())
    truncated = rows(client, project,
                     "* | SELECT date_trunc('minute', __time__) AS m, count(*) AS c GROUP BY m ORDER BY m", now)
    assert [int(r["c"]) for r in truncated] == [c for _, c in sorted(expected.items())]

    top = rows(client, project,
               "* | SELECT url, approx_percentile(latency, 0.99) AS p99 FROM log GROUP BY url "
               "ORDER BY p99 DESC LIMIT 2", now)
    assert [r["url"] for r in top] == ["/api/b", "/api/a"]

    users = rows(client, project,
                 "* | SELECT json_extract_scalar(body, '$.user.id') AS user, count(*) AS c "
                 "GROUP BY user ORDER BY user", now)
    assert users == [{"user": "u%d" % k, "c": "50"} for k in range(4)]
    assert rows(client, project, "* | SELECT approx_distinct(url) AS urls, regexp_extract(url, '/api/(\\w)', 1) AS x "
                "GROUP BY x ORDER BY x LIMIT 1", now) == [{"urls": "1", "x": "a"}]


def test_bad_sql_gets_a_clear_error(client, project):
    client.create_logstore(project, "sql", ttl=30, shard_count=1)
    now = int(time.time())
    for query in ["* | SELEC status", "* | SELECT no_such_function(status)", "* | DROP TABLE log"]:
        expect_error(lambda: client.get_logs(GetLogsRequest(project, "sql", now - 60, now, query=query)),
                     "ParameterInvalid")
