#!/usr/bin/env python3
"""Deterministic, realistic log records for Cairn benchmarks.

A record is (unix_time, [(key, value), ...]) with str keys and values, the shape a LogItem has.
The mix, by default:
  * nginx access logs, parsed into fields the way an agent's nginx parser emits them
    (status codes, paths, latencies, user agents, hosts with skewed, realistic distributions);
  * JSON application logs, flattened into fields (level, logger, message, trace ids, durations);
  * raw syslog lines in a single `content` field (sshd, cron, kernel, systemd, sudo ...);
  * raw lines sampled from the loghub corpus (/work/shared/data/loghub/*.log) in `content`.

Same seed + same base time + same corpus => same records, byte for byte.

  python bench/generate_logs.py --count 5 --seed 1          # print records as JSON lines
"""

import argparse
import bisect
import glob
import itertools
import json
import math
import os
import random

LOGHUB_DIR = os.environ.get("CAIRN_LOGHUB_DIR", "/work/shared/data/loghub")

DEFAULT_MIX = (("nginx", 0.40), ("json", 0.30), ("syslog", 0.15), ("loghub", 0.15))


class Weighted(object):
    """Draw from a fixed list with given weights (cumulative table + bisect)."""

    def __init__(self, items, weights):
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def draw(self, rng):
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def zipf(items, s=1.1):
    items = list(items)
    return Weighted(items, [1.0 / (k ** s) for k in range(1, len(items) + 1)])


STATUS = Weighted(
    ["200", "200", "204", "206", "301", "302", "304", "400", "401", "403", "404", "405", "408", "429",
     "499", "500", "502", "503", "504"],
    [70.0, 8.0, 1.5, 0.5, 1.0, 2.0, 5.0, 1.0, 0.8, 0.7, 5.0, 0.1, 0.1, 0.3, 0.5, 1.2, 0.6, 0.5, 0.2],
)
METHODS = Weighted(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"], [72, 18, 4, 2, 2, 1, 1])
LEVELS = Weighted(["INFO", "DEBUG", "WARN", "ERROR", "TRACE"], [62, 20, 10, 6, 2])

USER_AGENTS = zipf([
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36",
    "curl/8.4.0",
    "Go-http-client/1.1",
    "python-requests/2.31.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "kube-probe/1.28",
    "okhttp/4.12.0",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
], s=1.0)

REFERERS = zipf(["-", "https://www.example.com/", "https://www.google.com/", "https://shop.example.com/cart",
                 "https://m.example.com/home", "https://t.co/abc123", "https://www.bing.com/"], s=1.3)

SERVICES = ["checkout", "catalog", "payments", "auth", "search", "inventory", "notifications", "gateway",
            "recommendations", "orders", "billing", "profile"]
SERVICE = zipf(SERVICES, s=0.8)
HOSTS = zipf(["%s-%s-%d" % (svc, zone, n) for svc in SERVICES[:8] for zone in ("a", "b") for n in range(1, 4)], s=0.9)
VHOSTS = zipf(["www.example.com", "api.example.com", "shop.example.com", "static.example.com",
               "m.example.com", "admin.example.com"], s=1.2)

_API_RESOURCES = ["users", "orders", "products", "carts", "sessions", "payments", "search", "reviews",
                  "inventory", "coupons"]
PATH_TEMPLATES = zipf(
    ["/", "/index.html", "/favicon.ico", "/healthz", "/static/js/app.%h.js", "/static/css/main.%h.css",
     "/images/p/%d.jpg", "/login", "/logout", "/cart", "/checkout", "/search?q=%w&page=%p"]
    + ["/api/v1/%s" % r for r in _API_RESOURCES]
    + ["/api/v1/%s/%%d" % r for r in _API_RESOURCES]
    + ["/api/v2/%s/%%d/%s" % (r, sub) for r in _API_RESOURCES[:5] for sub in ("items", "history", "status")],
    s=1.05,
)
WORDS = ("shoes shirt phone laptop coffee book lamp chair desk watch camera bag jacket bike tent "
         "garden kitchen toys music games").split()

LOGGERS = zipf(["com.example.http.RequestHandler", "com.example.db.ConnectionPool", "com.example.cache.RedisClient",
                "com.example.orders.OrderService", "com.example.payments.PaymentGateway",
                "com.example.auth.TokenValidator", "com.example.kafka.ConsumerLoop",
                "com.example.scheduler.JobRunner", "io.netty.channel.DefaultChannelPipeline"], s=0.9)
APP_MESSAGES = {
    "INFO": ["request completed", "order %d created for user %d", "payment authorized for order %d",
             "cache refreshed in %d ms", "consumer group rebalanced, %d partitions assigned",
             "job %d finished", "user %d logged in", "feature flag %w evaluated"],
    "DEBUG": ["cache hit for key user:%d", "cache miss for key product:%d", "sql: SELECT * FROM orders WHERE id = %d",
              "retrying request, attempt %p", "token validated for user %d"],
    "WARN": ["slow query took %d ms", "connection pool at %p0%% capacity", "retrying payment for order %d",
             "deprecated API called by client %w", "rate limit near for user %d"],
    "ERROR": ["upstream timeout after %d ms", "connection refused by db-%p:5432",
              "payment declined for order %d: insufficient funds", "NullPointerException in handler %w",
              "failed to publish event to topic %w: broker unavailable"],
    "TRACE": ["entering method %w", "exiting method %w after %d us"],
}

SYSLOG_TEMPLATES = [
    ("sshd", "Accepted publickey for %u from %i port %d ssh2: RSA SHA256:%h"),
    ("sshd", "Failed password for invalid user %u from %i port %d ssh2"),
    ("sshd", "Disconnected from user %u %i port %d"),
    ("sshd", "pam_unix(sshd:session): session opened for user %u(uid=%d) by (uid=0)"),
    ("CRON", "(%u) CMD (/usr/local/bin/backup.sh --incremental)"),
    ("systemd", "Started Session %d of User %u."),
    ("systemd", "Starting Daily apt upgrade and clean activities..."),
    ("kernel", "[%d.%d] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies."),
    ("kernel", "[%d.%d] EXT4-fs (nvme0n1p1): re-mounted. Opts: errors=remount-ro"),
    ("sudo", "%u : TTY=pts/0 ; PWD=/home/%u ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"),
    ("dockerd", "time=\"2024-01-01T00:00:00Z\" level=info msg=\"ignoring event\" container=%h module=libcontainerd"),
    ("postfix/smtpd", "connect from unknown[%i]"),
]
SYSLOG = zipf(SYSLOG_TEMPLATES, s=0.7)
USERS = zipf(["root", "ubuntu", "deploy", "admin", "jenkins", "alice", "bob", "postgres", "test", "oracle"], s=1.0)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _ip(rng, pool):
    return pool[min(int(rng.paretovariate(1.2)) - 1, len(pool) - 1)]


def _fill(rng, template, ips):
    out = []
    i = 0
    n = len(template)
    while i < n:
        ch = template[i]
        if ch == "%" and i + 1 < n:
            code = template[i + 1]
            i += 2
            if code == "d":
                out.append(str(int(rng.paretovariate(0.8) * 10)))
            elif code == "p":
                out.append(str(rng.randint(1, 9)))
            elif code == "h":
                out.append("%012x" % rng.getrandbits(48))
            elif code == "w":
                out.append(rng.choice(WORDS))
            elif code == "u":
                out.append(USERS.draw(rng))
            elif code == "i":
                out.append(_ip(rng, ips))
            elif code == "%":
                out.append("%")
            else:
                out.append("%" + code)
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def load_loghub_lines(directory=LOGHUB_DIR):
    """All non-empty lines of the loghub sample files, as (source_file, line), in a fixed order."""
    lines = []
    for path in sorted(glob.glob(os.path.join(directory, "*.log"))):
        name = os.path.basename(path)
        with open(path, "rb") as f:
            for raw in f:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line:
                    lines.append((name, line))
    return lines


class LogGenerator(object):
    """Yields records; deterministic for (seed, base_time, mix, loghub corpus)."""

    def __init__(self, seed=42, base_time=1_700_000_000, mix=DEFAULT_MIX, rate_per_second=2000,
                 loghub_dir=LOGHUB_DIR):
        self.rng = random.Random(seed)
        self.time = float(base_time)
        self.rate = float(rate_per_second)
        kinds = [k for k, w in mix if w > 0]
        self.loghub = load_loghub_lines(loghub_dir) if "loghub" in kinds else []
        if not self.loghub:
            mix = [(k, w) for k, w in mix if k != "loghub"]
        self.kind = Weighted([k for k, _ in mix], [w for _, w in mix])
        ip_rng = random.Random(seed ^ 0x5EED)
        self.client_ips = ["%d.%d.%d.%d" % (ip_rng.randint(1, 223), ip_rng.randint(0, 255),
                                            ip_rng.randint(0, 255), ip_rng.randint(1, 254)) for _ in range(5000)]
        self.upstreams = ["10.0.%d.%d:8080" % (i // 16, i % 16 + 10) for i in range(48)]

    def _tick(self):
        # Poisson arrivals at `rate` records per second.
        self.time += self.rng.expovariate(self.rate)
        return int(self.time)

    def nginx(self, t):
        rng = self.rng
        status = STATUS.draw(rng)
        path = _fill(rng, PATH_TEMPLATES.draw(rng), self.client_ips)
        # Latency: log-normal around ~40 ms, heavier for errors and API calls.
        mu = -3.2 + (0.8 if path.startswith("/api/") else 0.0) + (1.5 if status.startswith("5") else 0.0)
        request_time = min(rng.lognormvariate(mu, 0.9), 60.0)
        size = 0 if status in ("204", "304") else int(rng.lognormvariate(8.0, 1.6))
        upstream = "-" if path.startswith(("/static/", "/images/", "/favicon")) else "%.3f" % (request_time * 0.9)
        return [
            ("remote_addr", _ip(rng, self.client_ips)),
            ("remote_user", "-"),
            ("time_local", _nginx_time(t)),
            ("request_method", METHODS.draw(rng)),
            ("request_uri", path),
            ("server_protocol", "HTTP/1.1" if rng.random() < 0.7 else "HTTP/2.0"),
            ("status", status),
            ("body_bytes_sent", str(size)),
            ("request_time", "%.3f" % request_time),
            ("upstream_response_time", upstream),
            ("upstream_addr", "-" if upstream == "-" else rng.choice(self.upstreams)),
            ("http_referer", REFERERS.draw(rng)),
            ("http_user_agent", USER_AGENTS.draw(rng)),
            ("host", VHOSTS.draw(rng)),
            ("hostname", HOSTS.draw(rng)),
        ]

    def app_json(self, t):
        rng = self.rng
        level = LEVELS.draw(rng)
        msg = _fill(rng, rng.choice(APP_MESSAGES[level]), self.client_ips)
        fields = [
            ("level", level),
            ("logger", LOGGERS.draw(rng)),
            ("service", SERVICE.draw(rng)),
            ("hostname", HOSTS.draw(rng)),
            ("thread", "http-nio-8080-exec-%d" % rng.randint(1, 200)),
            ("message", msg),
            ("trace_id", "%032x" % rng.getrandbits(128)),
            ("span_id", "%016x" % rng.getrandbits(64)),
            ("user_id", str(int(rng.paretovariate(0.7) * 1000))),
            ("duration_ms", str(int(rng.lognormvariate(3.0, 1.2)))),
        ]
        if level == "ERROR" and rng.random() < 0.5:
            fields.append(("stack_trace", "java.lang.IllegalStateException: %s\n\tat %s.handle(Handler.java:%d)\n"
                           "\tat io.netty.channel.AbstractChannelHandlerContext.invokeChannelRead("
                           "AbstractChannelHandlerContext.java:379)" % (msg, fields[1][1], rng.randint(20, 900))))
        return fields

    def syslog(self, t):
        rng = self.rng
        prog, template = SYSLOG.draw(rng)
        host = HOSTS.draw(rng)
        lt = _gmtime(t)
        line = "%s %2d %02d:%02d:%02d %s %s[%d]: %s" % (
            MONTHS[lt[1] - 1], lt[2], lt[3], lt[4], lt[5], host, prog, rng.randint(300, 65000),
            _fill(rng, template, self.client_ips))
        return [("content", line), ("hostname", host), ("facility", "auth" if prog == "sshd" else "daemon")]

    def loghub_line(self, t):
        name, line = self.loghub[self.rng.randrange(len(self.loghub))]
        return [("content", line), ("file", "/var/log/" + name)]

    def records(self, count):
        kinds = {"nginx": self.nginx, "json": self.app_json, "syslog": self.syslog, "loghub": self.loghub_line}
        for _ in range(count):
            t = self._tick()
            yield t, kinds[self.kind.draw(self.rng)](t)


def _gmtime(t):
    import time
    return time.gmtime(t)


def _nginx_time(t):
    lt = _gmtime(t)
    return "%02d/%s/%d:%02d:%02d:%02d +0000" % (lt[2], MONTHS[lt[1] - 1], lt[0], lt[3], lt[4], lt[5])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--base-time", type=int, default=1_700_000_000)
    p.add_argument("--stats", action="store_true", help="print size statistics instead of records")
    a = p.parse_args()
    gen = LogGenerator(seed=a.seed, base_time=a.base_time)
    if a.stats:
        n = 0
        size = 0
        fields = 0
        for _, rec in gen.records(a.count):
            n += 1
            fields += len(rec)
            size += sum(len(k) + len(v.encode()) for k, v in rec)
        print("records=%d avg_fields=%.1f avg_kv_bytes=%.1f" % (n, fields / max(n, 1), size / max(n, 1)))
        return
    for t, rec in gen.records(a.count):
        print(json.dumps({"__time__": t, **dict(rec)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
