#!/usr/bin/env python3
"""Endpoints scaled from 2 to 10: ten real hello-pks-app backends (127.0.0.2 ... 127.0.0.11,
one port, each answering with its own pod name); the Service's EndpointSlice lists two of them,
then is updated in place to list all ten. Before the update only the two answer; after it every
one of the ten receives traffic, and the spread is even enough for round robin (no backend gets
more than twice its share). Then scaled back to 3 and only those 3 answer.

  scale_endpoints_test.py BUILD_DIR
"""
import collections
import sys

import ie2e
from ie2e import HOST, check, say, wait_for


def spread(ing, n):
    """n requests with Host HOST on new connections: Counter of answering pods."""
    seen = collections.Counter()
    for _ in range(n):
        code, body = ie2e.get(ing.http, HOST)
        check(code == 200, f"request failed: {code} {body[:200]}")
        seen[ie2e.pod_of(body)] += 1
    return seen


def test(env):
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    api, kubeconfig = ie2e.start_kop_local(env)
    addrs = [f"127.0.0.{i}" for i in range(2, 12)]
    pods = [f"hello-pks-{i + 1}" for i in range(10)]
    port = ie2e.port_free_on(addrs)
    for a, p in zip(addrs, pods):
        ie2e.start_backend(env, app, a, port, p)
    ing = ie2e.Ingress(env, kubeconfig)

    api.create(ie2e.service("hello-pks"))
    api.create(ie2e.endpoint_slice("hello-pks-abc", "hello-pks", addrs[:2], port))
    api.create(ie2e.ingress("hello-pks", HOST, "hello-pks"))
    wait_for(f"Host: {HOST} to answer 200", lambda: ie2e.get(ing.http, HOST)[0] == 200, 20)

    seen = spread(ing, 40)
    say(f"2 endpoints: {dict(seen)}")
    check(set(seen) == set(pods[:2]), f"want exactly {pods[:2]}, saw {dict(seen)}")

    api.replace(ie2e.endpoint_slice("hello-pks-abc", "hello-pks", addrs, port))
    say("EndpointSlice updated to 10 endpoints")
    wait_for("all 10 backends to answer",
             lambda: set(spread(ing, 30)) == set(pods), 20, 0.1)
    seen = spread(ing, 200)
    say(f"10 endpoints, 200 requests: {dict(sorted(seen.items()))}")
    check(set(seen) == set(pods), f"not every backend received traffic: {dict(seen)}")
    check(max(seen.values()) <= 40, f"uneven spread over 10 endpoints: {dict(seen)}")

    api.replace(ie2e.endpoint_slice("hello-pks-abc", "hello-pks", addrs[:3], port))
    wait_for("only 3 backends to answer", lambda: set(spread(ing, 30)) == set(pods[:3]), 20, 0.1)
    seen = spread(ing, 60)
    check(set(seen) == set(pods[:3]), f"after scaling to 3: {dict(seen)}")
    say(f"scaled back to 3: {dict(seen)}")


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
