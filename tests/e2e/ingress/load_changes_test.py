#!/usr/bin/env python3
"""Objects changed while load runs, with zero failed requests.

Load: four client threads, each on its own keep-alive HTTP/1.1 connection, send GETs with
Host load.example.com through kop-ingress as fast as they can; every answer must be 200 with a
backend's JSON, and every connection error counts as a failure.

Meanwhile, through kop-local's REST API:
- churn: other Ingresses, Services and EndpointSlices are created, updated and deleted in a
  loop (each churn host is checked to answer 200 once live and 404 once deleted);
- the loaded Ingress itself is replaced (a second path added and removed) and its Service
  updated;
- the loaded route's endpoints roll make-before-break: a new backend process starts, is added
  to the EndpointSlice, and only once it has served load is the oldest removed from the slice;
  once no request has reached the removed one for a while, its process is stopped (SIGTERM, as
  a Pod being deleted). Any request the proxy still sent there would fail.

  load_changes_test.py BUILD_DIR
"""
import collections
import http.client
import sys
import threading
import time

import ie2e
from ie2e import check, say, wait_for

LOAD_HOST = "load.example.com"
CLIENTS = 4
ROLLS = 5


class Load:
    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []  # (time, text)
        self.last_seen = {}  # pod -> monotonic time of its last answer
        self.by_pod = collections.Counter()
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(CLIENTS)]

    def client(self):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/", headers={"Host": LOAD_HOST})
                r = conn.getresponse()
                body = r.read().decode(errors="replace")
                pod = ie2e.pod_of(body)
                with self.lock:
                    if r.status == 200 and pod:
                        self.ok += 1
                        self.by_pod[pod] += 1
                        self.last_seen[pod] = time.monotonic()
                    else:
                        self.failures.append((time.monotonic(), f"{r.status} {body[:120]!r}"))
                if r.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.failures.append((time.monotonic(), f"connection error: {e!r}"))
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()

    def seen_since(self, pod, t):
        with self.lock:
            return self.last_seen.get(pod, 0) > t


def churn(api, ing, stop, errors, counts, backend_addr, backend_port):
    """Creates, updates and deletes unrelated objects until stop is set."""
    i = 0
    live = collections.deque()
    try:
        while not stop.is_set():
            name, host = f"churn-{i}", f"churn-{i}.example.com"
            api.create(ie2e.service(name))
            api.create(ie2e.endpoint_slice(name, name, [backend_addr], backend_port))
            api.create(ie2e.ingress(name, host, name))
            obj = ie2e.ingress(name, host, name, path="/v2")
            api.replace(obj)
            # A second endpoint that is not ready: a change the proxy must not route to.
            es = ie2e.endpoint_slice(name, name, [backend_addr, "127.0.0.250"], backend_port)
            es["endpoints"][1]["conditions"]["ready"] = False
            api.replace(es)
            counts["created"] += 3
            counts["updated"] += 2
            live.append((name, host))
            if len(live) > 3:
                old, old_host = live.popleft()
                api.delete("Ingress", "default", old)
                api.delete("EndpointSlice", "default", old)
                api.delete("Service", "default", old)
                counts["deleted"] += 3
            i += 1
            time.sleep(0.05)
    except Exception as e:  # reported by the main thread
        errors.append(repr(e))
    return live


def test(env):
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    api, kubeconfig = ie2e.start_kop_local(env)
    pool = [f"127.0.0.{i}" for i in range(2, 2 + 2 + ROLLS)]
    churn_addr = "127.0.0.100"  # the churn objects' backend, up for the whole test
    port = ie2e.port_free_on(pool + [churn_addr])
    backends = {}  # address -> Popen

    def start(addr):
        backends[addr] = ie2e.start_backend(env, app, addr, port, "pod-" + addr.split(".")[-1])

    active = pool[:2]
    for a in active + [churn_addr]:
        start(a)
    ing = ie2e.Ingress(env, kubeconfig)

    api.create(ie2e.service("load"))
    api.create(ie2e.endpoint_slice("load", "load", active, port))
    api.create(ie2e.ingress("load", LOAD_HOST, "load"))
    wait_for(f"Host: {LOAD_HOST} to answer 200",
             lambda: ie2e.get(ing.http, LOAD_HOST)[0] == 200, 20)
    applies_before = ing.metric("kop_ingress_config_applies_total") or 0
    # The proxy retries a refused connect once on another endpoint, which would hide a request
    # sent to a stopped backend: its connect-failure and retry counters must not move either.
    proxy_counters = ("kop_proxy_upstream_connect_failures_total",
                      "kop_proxy_upstream_retries_total")
    counters_before = {c: ing.metric(c) for c in proxy_counters}
    check(None not in counters_before.values(), f"proxy metrics missing: {counters_before}")

    load = Load(ing.http)
    for t in load.threads:
        t.start()
    stop_churn = threading.Event()
    churn_errors, counts = [], collections.Counter()
    churn_result = {}
    churner = threading.Thread(
        target=lambda: churn_result.update(live=churn(api, ing, stop_churn, churn_errors, counts,
                                                      churn_addr, port)),
        daemon=True)
    churner.start()
    started = time.monotonic()
    try:
        for roll in range(ROLLS):
            new, old = pool[2 + roll], active[0]
            start(new)
            t0 = time.monotonic()
            active = active + [new]
            api.replace(ie2e.endpoint_slice("load", "load", active, port))
            wait_for(f"new endpoint {new} to serve load",
                     lambda: load.seen_since("pod-" + new.split(".")[-1], t0), 15, 0.02)
            time.sleep(1.0)  # load spread over old and new for a while
            # The loaded Ingress and Service change too (a second path comes and goes).
            extra = ie2e.ingress("load", LOAD_HOST, "load")
            if roll % 2 == 0:
                extra["spec"]["rules"][0]["http"]["paths"].append(
                    {"path": "/extra", "pathType": "Exact",
                     "backend": {"service": {"name": "load", "port": {"number": 80}}}})
            api.replace(extra)
            svc = ie2e.service("load")
            svc["metadata"]["labels"] = {"roll": str(roll)}
            api.replace(svc)
            active = active[1:]
            t1 = time.monotonic()
            api.replace(ie2e.endpoint_slice("load", "load", active, port))
            old_pod = "pod-" + old.split(".")[-1]
            # Removed from the config once no request has reached it for 0.5 s.
            wait_for(f"removed endpoint {old} to stop receiving load",
                     lambda: time.monotonic() - max(load.last_seen.get(old_pod, 0), t1) > 0.5,
                     15, 0.05)
            env.stop(backends.pop(old))
            say(f"roll {roll + 1}: +{new} -{old} (stopped); {load.ok} ok, "
                f"{len(load.failures)} failed so far")
        time.sleep(1.0)  # load keeps running on the last set after the final stop
    finally:
        stop_churn.set()
        churner.join(30)
        load.stop.set()
        for t in load.threads:
            t.join(10)
    elapsed = time.monotonic() - started
    applies = (ing.metric("kop_ingress_config_applies_total") or 0) - applies_before
    say(f"{load.ok} requests ok in {elapsed:.1f} s ({load.ok / elapsed:.0f}/s), "
        f"{len(load.failures)} failed; per pod {dict(sorted(load.by_pod.items()))}")
    say(f"churn: {dict(counts)}; configs applied during the run: {applies:.0f}")
    counters = {c: ing.metric(c) - counters_before[c] for c in proxy_counters}
    say(f"proxy counters during the run: {counters}")
    check(not churn_errors, f"churn failed: {churn_errors}")
    check(not load.failures,
          f"{len(load.failures)} failed requests, first: {load.failures[:5]}")
    check(not any(counters.values()),
          f"requests reached a removed or stopped endpoint (proxy counters {counters})")
    check(load.ok >= 200, f"too little load to mean anything: {load.ok} requests")
    for a in pool[2:]:
        check(load.by_pod["pod-" + a.split(".")[-1]] > 0, f"rolled-in backend {a} got no load")
    check(counts["deleted"] > 0 and applies >= ROLLS * 2,
          f"too few changes: {dict(counts)}, {applies} applies")
    # The churn really went through the proxy: the live churn hosts answer, deleted ones 404.
    live = churn_result.get("live", [])
    check(live, "no churn host left")
    for name, host in live:
        wait_for(f"churn host {host} to answer 200 on /v2",
                 lambda: ie2e.get(ing.http, host, "/v2")[0] == 200, 10)
    wait_for("deleted churn host churn-0 to answer 404",
             lambda: ie2e.get(ing.http, "churn-0.example.com", "/v2")[0] == 404, 10)


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
