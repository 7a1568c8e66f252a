#!/usr/bin/env python3
"""Two kop-ingress processes against one kop-local, leader election on with a short Lease
(2 s, renew deadline 1.5 s, retry 250 ms):
- both serve traffic; only the leader's --publish-address appears in the Ingress status, and
  the other writes no status;
- the leader is frozen (SIGSTOP): the other takes over within the lease duration (+ retries)
  and writes its address;
- the frozen one is thawed (SIGCONT): it has lost the Lease, keeps serving, stays healthy,
  writes nothing, and campaigns again;
- the new leader gets SIGTERM (releases the Lease, exits 0): the first one wins the Lease again
  (same process, no restart) and writes its address.

  two_replicas_test.py BUILD_DIR
"""
import signal
import sys
import time

import ie2e
from ie2e import HOST, check, say, wait_for

LEASE = 2.0
FLAGS = ["--leader-elect=true", "--leader-election-namespace", "default",
         "--leader-election-id", "kop-ingress-e2e",
         "--leader-election-lease-duration", "2s", "--leader-election-renew-deadline", "1500ms",
         "--leader-election-retry-period", "250ms"]
A_IP, B_IP = "192.0.2.1", "192.0.2.2"


def test(env):
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    api, kubeconfig = ie2e.start_kop_local(env)
    ie2e.backend_service(env, api, app, "hello-pks", "hello-pks-1")
    api.create(ie2e.ingress("hello-pks", HOST, "hello-pks"))

    def lb():
        got = api.get("Ingress", "default", "hello-pks")
        return got.get("status", {}).get("loadBalancer", {}).get("ingress")

    def serves(ing):
        return ie2e.get(ing.http, HOST)[0] == 200

    a = ie2e.Ingress(env, kubeconfig, ["--publish-address", A_IP, *FLAGS], name="kop-ingress-a")
    wait_for("a's address in the status", lambda: lb() == [{"ip": A_IP}], 15)
    b = ie2e.Ingress(env, kubeconfig, ["--publish-address", B_IP, *FLAGS], name="kop-ingress-b")
    wait_for("a to serve", lambda: serves(a), 15)
    wait_for("b to serve", lambda: serves(b), 15)
    say("both replicas serve; a leads")
    time.sleep(2 * LEASE)
    check(lb() == [{"ip": A_IP}], f"only the leader's address may be published: {lb()}")
    check(b.metric("leader_election_master_status") == 0, "b says it leads")
    check(b.metric("kop_ingress_status_writes_total") in (None, 0.0), "b wrote a status")
    check(a.metric("leader_election_master_status") == 1, "a does not say it leads")

    a.proc.send_signal(signal.SIGSTOP)
    frozen = time.monotonic()
    wait_for("b's address after a froze", lambda: lb() == [{"ip": B_IP}], 4 * LEASE)
    took = time.monotonic() - frozen
    say(f"a frozen: b took over and wrote its address in {took * 1000:.0f} ms")
    # The Lease expires LEASE after a's last renewal (at most one retry period before the
    # freeze); b notices within a retry period, then writes.
    check(took <= LEASE + 1.5, f"failover took {took:.1f} s (lease {LEASE} s)")
    check(serves(b), "b stopped serving")

    a.proc.send_signal(signal.SIGCONT)
    wait_for("a to notice it lost the Lease",
             lambda: a.metric("leader_election_master_status") == 0, 10)
    wait_for("a to serve again", lambda: serves(a), 10)
    check(ie2e.get(a.metrics, "localhost", "/healthz")[0] == 200, "a is unhealthy after the loss")
    time.sleep(LEASE)
    check(lb() == [{"ip": B_IP}], f"a wrote after losing the Lease: {lb()}")
    say("a thawed: lost the Lease, serves, healthy, writes nothing")

    env.stop(b.proc)
    check(b.proc.returncode == 0, f"b exited with {b.proc.returncode}")
    stopped = time.monotonic()
    wait_for("a to win the Lease again and write its address",
             lambda: lb() == [{"ip": A_IP}], 4 * LEASE)
    say(f"b stopped (Lease released): a leads again and wrote its address in "
        f"{(time.monotonic() - stopped) * 1000:.0f} ms")
    check(a.metric("leader_election_master_status") == 1, "a does not say it leads")
    check(serves(a), "a stopped serving")


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
