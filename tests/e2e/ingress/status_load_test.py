#!/usr/bin/env python3
"""Status writes never stall the build (kop-ingress over REST against kop-local).

300 Ingresses exist when kop-ingress starts with --publish-address (and the default client
rate limit, 20 QPS burst 30): their statuses take many seconds to write. Meanwhile a newly
created Ingress must be routed within a short bound (it used to wait for every status write
before it: 199 s at 1k Ingresses). Then every status is written, and a steady state writes
nothing: a change that makes a build (a Service label) sends no PUT or PATCH (counted in
kop-ingress' rest_client_requests_total) and no status write (kop_ingress_status_writes_total).

  status_load_test.py BUILD_DIR
"""
import sys
import time

import ie2e
from ie2e import check, say, wait_for

COUNT = 300
ROUTED_BOUND = 5.0  # seconds from create to 200 (one watch event + one build of 300 Ingresses)


def test(env):
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    api, kubeconfig = ie2e.start_kop_local(env)
    ie2e.backend_service(env, api, app, "web", "web-1")
    t0 = time.monotonic()
    for i in range(COUNT):
        api.create(ie2e.ingress(f"ing-{i}", f"h{i}.example.com", "web"))
    say(f"{COUNT} Ingresses created in {time.monotonic() - t0:.1f} s")

    ing = ie2e.Ingress(env, kubeconfig, ["--publish-address", "192.0.2.10",
                                         "--leader-elect=false"])
    wait_for("the last Ingress to be routed",
             lambda: ie2e.get(ing.http, f"h{COUNT - 1}.example.com")[0] == 200, 30)

    def with_status():
        items = api.call("GET", "/apis/networking.k8s.io/v1/namespaces/default/ingresses")["items"]
        return sum(1 for o in items
                   if o.get("status", {}).get("loadBalancer", {}).get("ingress")
                   == [{"ip": "192.0.2.10"}])

    before = with_status()
    check(before < COUNT, f"all {COUNT} statuses were written before the test could overlap them")
    created = time.monotonic()
    api.create(ie2e.ingress("fresh", "fresh.example.com", "web"))
    wait_for("fresh.example.com to answer 200",
             lambda: ie2e.get(ing.http, "fresh.example.com")[0] == 200, ROUTED_BOUND)
    took = time.monotonic() - created
    during = with_status()
    say(f"new Ingress routed {took * 1000:.0f} ms after its create, while statuses were written "
        f"({before} then {during} of {COUNT + 1} done)")
    check(during < COUNT + 1, "the statuses were all written before the new Ingress was routed")

    wait_for(f"all {COUNT + 1} statuses", lambda: with_status() == COUNT + 1, 90, interval=0.5)
    say(f"all statuses written {time.monotonic() - created:.1f} s after the create")

    # Steady state: a change that builds writes nothing.
    time.sleep(1.0)
    puts = ing.metric_sum("rest_client_requests_total", method="PUT")
    patches = ing.metric_sum("rest_client_requests_total", method="PATCH")
    writes = ing.metric("kop_ingress_status_writes_total")
    builds = ing.metric("kop_ingress_builds_total")
    check(writes is not None and writes >= COUNT + 1, f"status writes counted: {writes}")
    svc = api.get("Service", "default", "web")
    svc["metadata"].setdefault("labels", {})["touched"] = "yes"
    api.replace(svc)
    wait_for("a build after the Service change",
             lambda: ing.metric("kop_ingress_builds_total") > builds, 10)
    time.sleep(1.5)
    check(ing.metric_sum("rest_client_requests_total", method="PUT") == puts,
          "a steady-state build sent PUT requests")
    check(ing.metric_sum("rest_client_requests_total", method="PATCH") == patches,
          "a steady-state build sent PATCH requests")
    check(ing.metric("kop_ingress_status_writes_total") == writes,
          "a steady-state build wrote statuses")
    say(f"steady state: no PUT/PATCH after a build ({puts:.0f} PUTs in total)")
    check(ing.proc.poll() is None, "kop-ingress exited")


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
