#!/usr/bin/env python3
"""Soak with faults: steady load over HTTP/1.1, TLS and HTTP/2 through two kop-ingress replicas
(leader election on) while, all at once:
- churn: Ingresses, Services, EndpointSlices and Secrets are created, replaced and deleted every
  few milliseconds through kop-local's REST API, the loaded route's own Secret and Service
  included;
- the API connection of both replicas runs through a TCP relay that resets every connection at
  random moments, sometimes refusing new ones for a second;
- the loaded Service's backends are SIGKILLed and restarted, one at a time;
- the leader replica is SIGKILLed and started again.

Every failed request must be explained by a fault active while it ran: a backend that was down
(any replica may then fail a request that was on it) or the replica itself being down. API cuts
and churn explain nothing: the data plane must not notice them. After the load stops, each
replica's descriptors (less its pooled upstream connections) fall back to the idle level
measured before the load, and (outside
sanitizer builds, whose allocator keeps freed memory in quarantine) the RSS of each replica that
ran the whole time ends within 10 % + 8 MiB of its level after warm-up. A route created at the
end must go live on both replicas: the control plane survived the faults.

  soak_test.py BUILD_DIR [--duration SECONDS]   (default 40: CI's short run; 600 by hand)

Ends with a report: requests by protocol, failures by cause, connection resets, churn and fault
counts, RSS and descriptors per replica.
"""
import argparse
import collections
import http.client
import os
import random
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

import ie2e
from ie2e import check, say, wait_for

HOST = "soak.example.com"
BACKENDS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
CHURN_INGRESSES = 20
CHURN_SERVICES = 5
# Descriptors a replica may hold above its idle level once the load is gone, not counting the
# idle upstream connections its pools keep to the backends (bounded by the pools, closed by their
# idle timeout): API connections reopened after the cuts.
FD_SLACK = 16
LEASE_FLAGS = ["--leader-elect=true", "--leader-election-namespace", "default",
               "--leader-election-id", "kop-ingress-soak",
               "--leader-election-lease-duration", "2s", "--leader-election-renew-deadline",
               "1500ms", "--leader-election-retry-period", "250ms"]


class Windows:
    """Time windows of faults that explain failures: (kind, replica or None, start, end)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def open(self, kind, replica=None):
        with self.lock:
            self.items.append([kind, replica, time.monotonic(), None])
            return len(self.items) - 1

    def close(self, i, grace):
        with self.lock:
            self.items[i][3] = time.monotonic() + grace

    def explain(self, replica, start, end):
        """The kind of the first window overlapping [start, end] that covers `replica`."""
        with self.lock:
            for kind, rep, ws, we in self.items:
                if (rep is None or rep == replica) and ws <= end and (we is None or start <= we):
                    return kind
        return None


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = {}
        self.failures = []  # (replica, protocol, start, end, text)
        self.resets = 0

    def success(self, proto, n=1):
        with self.lock:
            self.ok[proto] = self.ok.get(proto, 0) + n

    def failure(self, replica, proto, start, text, reset=False):
        with self.lock:
            self.failures.append((replica, proto, start, time.monotonic(), text))
            self.resets += 1 if reset else 0


class Relay:
    """A TCP relay in front of kop-local: cut() resets every open connection; refuse(s) resets
    new ones for s seconds. Stands in for a flaky network between kop-ingress and the API."""

    def __init__(self, target_port):
        self.target = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = set()
        self.refuse_until = 0.0
        self.cuts = 0
        threading.Thread(target=self.accept, daemon=True).start()

    @staticmethod
    def reset(s):
        """Ends a connection with a reset. shutdown() first: a bare close() neither wakes the
        relay's own thread blocked in recv() on it nor reaches the peer while that call runs."""
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if time.monotonic() < self.refuse_until:
                self.reset(c)
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                u.settimeout(None)
            except OSError:
                self.reset(c)
                continue
            with self.lock:
                self.conns.add(c)
                self.conns.add(u)
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    def pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                gone = src in self.conns
                self.conns.discard(src)
            if gone:
                self.reset(src)

    def cut(self, refuse_for=0.0):
        self.refuse_until = time.monotonic() + refuse_for
        with self.lock:
            conns, self.conns = list(self.conns), set()
        for s in conns:
            self.reset(s)
        self.cuts += 1


class Replica:
    """One kop-ingress replica: restartable on the same ports."""

    def __init__(self, env, kubeconfig, name):
        self.env, self.kubeconfig, self.name = env, kubeconfig, name
        self.ports = None
        self.incarnations = []  # {"pid", "started", "samples": [(t, rss_kb, fds)]}
        self.start()

    def start(self):
        if self.ports is None:
            ing = ie2e.Ingress(self.env, self.kubeconfig, LEASE_FLAGS, name=self.name)
            self.ports = (ing.http, ing.https, ing.admin, ing.metrics)
            self.ing = ing
        else:
            http_port, https_port, admin, metrics = self.ports
            argv = [self.env.binary("operators/ingress/cmd/kop-ingress"),
                    "--kubeconfig", self.kubeconfig, "--http-addr", f"127.0.0.1:{http_port}",
                    "--https-addr", f"127.0.0.1:{https_port}", "--admin-addr",
                    f"127.0.0.1:{admin}", "--metrics-addr", f"127.0.0.1:{metrics}",
                    "--ingress-class", "contour", "--workers", "2", *LEASE_FLAGS]
            self.ing.proc = self.env.start(self.name, argv)
            wait_for(f"{self.name} /readyz after restart", self.ing.ready, 30)
        self.incarnations.append({"pid": self.ing.proc.pid, "started": time.monotonic(),
                                  "samples": [], "killed": False})

    @property
    def http(self):
        return self.ports[0]

    @property
    def https(self):
        return self.ports[1]

    def alive(self):
        return self.ing.proc.poll() is None

    def leads(self):
        try:
            return self.alive() and self.ing.metric("leader_election_master_status") == 1
        except (OSError, http.client.HTTPException):
            return False

    def sample(self):
        pid = self.ing.proc.pid
        try:
            with open(f"/proc/{pid}/status") as f:
                rss = int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, AttributeError):
            return None
        self.incarnations[-1]["samples"].append((time.monotonic(), rss, fds))
        return rss, fds

    def sanitized(self):
        try:
            with open(f"/proc/{self.ing.proc.pid}/maps") as f:
                return "libasan" in f.read()
        except OSError:
            return False


def upstream_sockets(pid):
    """Connections of process `pid` to the backends: pooled upstream connections, not leaks."""
    out = subprocess.run(["ss", "-tanp"], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines()
               if f"pid={pid}," in line and line.split()[0] == "ESTAB" and
               line.split()[4].rsplit(":", 1)[0] in BACKENDS)


def serves(port, tls=False, path="/"):
    try:
        if tls:
            ctx = ssl._create_unverified_context()
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=3, context=ctx)
            c._tunnel_host = None
            c.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 3),
                                     server_hostname=HOST)
        else:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        c.request("GET", path, headers={"Host": HOST})
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        c.close()
        return r.status == 200 and ie2e.pod_of(body) is not None
    except (OSError, http.client.HTTPException):
        return False


def h1_client(replica, tls, tally, stop):
    """Keep-alive GETs as fast as one thread goes; every error is a failure, then reconnect."""
    proto = "tls" if tls else "http1"
    ctx = ssl._create_unverified_context() if tls else None
    conn = None
    while not stop.is_set():
        start = time.monotonic()
        try:
            if conn is None:
                sock = socket.create_connection(("127.0.0.1", replica.https if tls else
                                                 replica.http), timeout=5)
                if tls:
                    sock = ctx.wrap_socket(sock, server_hostname=HOST)
                conn = http.client.HTTPConnection("127.0.0.1", timeout=5)
                conn.sock = sock
            conn.request("GET", "/", headers={"Host": HOST})
            r = conn.getresponse()
            body = r.read().decode(errors="replace")
            if r.status == 200 and ie2e.pod_of(body):
                tally.success(proto)
                continue
            tally.failure(replica.name, proto, start, f"{r.status} {body[:80]!r}")
            if r.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            tally.failure(replica.name, proto, start, repr(e)[:120],
                          reset=isinstance(e, ConnectionResetError))
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)


def h2_client(replica, tally, stop):
    """h2load over TLS (ALPN h2) in 2 s rounds; a round's failures carry the round's window."""
    while not stop.is_set():
        start = time.monotonic()
        r = subprocess.run(["h2load", "-D", "2", "-c", "2", "-m", "4", "--connect-to",
                            f"127.0.0.1:{replica.https}", f"https://{HOST}:{replica.https}/"],
                           capture_output=True, text=True, timeout=30)
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored, (\d+) timeout", r.stdout)
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", r.stdout)
        if not m or not codes:
            tally.failure(replica.name, "h2", start, "h2load: " + (r.stdout + r.stderr)[-200:])
            time.sleep(0.2)
            continue
        ok = int(codes.group(1))
        bad = int(m.group(5)) + int(m.group(6)) + int(m.group(7)) + int(codes.group(2)) + \
            int(codes.group(3)) + int(codes.group(4))
        tally.success("h2", ok)
        if bad:
            tally.failure(replica.name, "h2", start, f"h2load round: {bad} of {ok + bad} failed")


def churn(api, certs, backend_port, tally_churn, stop):
    """Creates, replaces and deletes objects every few ms; touches the loaded route's own
    Secret, Service and EndpointSlice too (same content, so the route keeps serving)."""
    rnd = random.Random(14)
    live = set()
    while not stop.is_set():
        op = rnd.random()
        try:
            if op < 0.45:
                i = rnd.randrange(CHURN_INGRESSES)
                name = f"churn-{i}"
                if name in live and rnd.random() < 0.4:
                    api.delete("Ingress", "default", name)
                    live.discard(name)
                else:
                    svc = f"churn-svc-{rnd.randrange(CHURN_SERVICES)}"
                    tls = f"churn-tls-{i % 3}" if rnd.random() < 0.3 else None
                    api.apply(ie2e.ingress(name, f"churn-{i}.example.com", svc, tls_secret=tls,
                                           path=rnd.choice(["/", "/a", "/b/c"])))
                    live.add(name)
            elif op < 0.6:
                j = rnd.randrange(CHURN_SERVICES)
                api.apply(ie2e.service(f"churn-svc-{j}", port=rnd.choice([80, 8080])))
            elif op < 0.75:
                j = rnd.randrange(CHURN_SERVICES)
                addrs = [f"127.0.1.{k}" for k in rnd.sample(range(1, 40), rnd.randrange(1, 6))]
                api.apply(ie2e.endpoint_slice(f"churn-svc-{j}-1", f"churn-svc-{j}", addrs,
                                              rnd.choice([8080, 9090])))
            elif op < 0.85:
                crt, key = rnd.choice(certs["churn"])
                api.apply(ie2e.tls_secret(f"churn-tls-{rnd.randrange(3)}", crt, key))
            elif op < 0.9:
                crt, key = rnd.choice(certs["soak"])
                api.apply(ie2e.tls_secret("soak-tls", crt, key))
            elif op < 0.95:
                api.apply(ie2e.service("soak"))
            else:
                addrs = BACKENDS[:]
                rnd.shuffle(addrs)
                api.apply(ie2e.endpoint_slice("soak-1", "soak", addrs, backend_port))
            tally_churn[0] += 1
        except ie2e.Failure as e:
            tally_churn[1].append(str(e)[:200])
        time.sleep(rnd.uniform(0.002, 0.008))


def test(env, duration):
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    api, kubeconfig = ie2e.start_kop_local(env)
    with open(kubeconfig) as f:
        text = f.read()
    api_port = int(re.search(r"server: http://127\.0\.0\.1:(\d+)", text).group(1))
    relay = Relay(api_port)
    relayed = os.path.join(env.tmp, "kubeconfig-relayed")
    with open(relayed, "w") as f:
        f.write(text.replace(f"127.0.0.1:{api_port}", f"127.0.0.1:{relay.port}"))

    certs = {"soak": [ie2e.make_cert(os.path.join(env.tmp, f"soak{i}"), HOST, [HOST])[:2]
                      for i in range(2)],
             "churn": [ie2e.make_cert(os.path.join(env.tmp, f"churn{i}"), "churn.example.com",
                                      ["churn.example.com"])[:2] for i in range(2)]}
    port = ie2e.port_free_on(BACKENDS)
    backends = {a: ie2e.start_backend(env, app, a, port, f"soak-{k}")
                for k, a in enumerate(BACKENDS)}
    api.create(ie2e.service("soak"))
    api.create(ie2e.endpoint_slice("soak-1", "soak", BACKENDS, port))
    api.create(ie2e.tls_secret("soak-tls", *certs["soak"][0]))
    api.create(ie2e.ingress("soak", HOST, "soak", tls_secret="soak-tls"))

    replicas = [Replica(env, relayed, "kop-ingress-a"), Replica(env, relayed, "kop-ingress-b")]
    for r in replicas:
        wait_for(f"{r.name} to serve http", lambda: serves(r.http), 20)
        wait_for(f"{r.name} to serve https", lambda: serves(r.https, tls=True), 20)
    idle_fds = {}
    for r in replicas:
        time.sleep(0.5)
        idle_fds[r.name] = r.sample()[1]
    say(f"two replicas serve {HOST}; idle descriptors {idle_fds}")

    windows, tally, stop, churn_count = Windows(), Tally(), threading.Event(), [0, []]
    threads = []
    for r in replicas:
        threads += [threading.Thread(target=h1_client, args=(r, False, tally, stop)),
                    threading.Thread(target=h1_client, args=(r, False, tally, stop)),
                    threading.Thread(target=h1_client, args=(r, True, tally, stop)),
                    threading.Thread(target=h2_client, args=(r, tally, stop))]
    threads.append(threading.Thread(target=churn, args=(api, certs, port, churn_count, stop)))
    for t in threads:
        t.daemon = True
        t.start()

    rnd = random.Random(6)
    begin = time.monotonic()
    end = begin + duration
    # One kill in a short run, so that one replica runs the whole time (its memory is judged);
    # every 150 s in a long one.
    leader_kills = [begin + duration * 0.5] if duration < 200 else \
        [begin + t for t in range(90, int(duration) - 30, 150)]
    next_cut = begin + rnd.uniform(1, 4)
    next_backend = begin + rnd.uniform(2, 5)
    next_sample = begin
    faults = {"api cuts": 0, "backend kills": 0, "leader kills": 0}
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_sample:
            for r in replicas:
                if r.alive():
                    r.sample()
            next_sample = now + 1.0
        if now >= next_cut:
            relay.cut(refuse_for=1.0 if rnd.random() < 0.3 else 0.0)
            faults["api cuts"] += 1
            next_cut = now + rnd.uniform(2, 6)
        if now >= next_backend:
            addr = rnd.choice(BACKENDS)
            w = windows.open(f"backend {addr} down")
            backends[addr].kill()
            backends[addr].wait()
            time.sleep(rnd.uniform(0.5, 1.5))
            backends[addr] = ie2e.start_backend(env, app, addr, port,
                                                f"soak-{BACKENDS.index(addr)}")
            # Requests already failing over when the backend came back still count to it.
            windows.close(w, grace=1.0)
            faults["backend kills"] += 1
            next_backend = time.monotonic() + rnd.uniform(4, 8)
        if leader_kills and now >= leader_kills[0]:
            leader_kills.pop(0)
            leader = wait_for("a leader", lambda: next((r for r in replicas if r.leads()), None),
                              15)
            w = windows.open("replica down", leader.name)
            leader.incarnations[-1]["killed"] = True
            leader.ing.proc.kill()
            leader.ing.proc.wait()
            # A SIGKILLed kop process is this test's doing, not a crash to report at the end.
            env.procs = [(n, p) for n, p in env.procs if p is not leader.ing.proc]
            say(f"SIGKILL {leader.name} (the leader)")
            other = next(r for r in replicas if r is not leader)
            wait_for(f"{other.name} to take the Lease", other.leads, 15)
            leader.start()
            wait_for(f"{leader.name} to serve again", lambda: serves(leader.http), 20)
            windows.close(w, grace=0.5)
            faults["leader kills"] += 1
            say(f"{other.name} leads; {leader.name} restarted and serves")
        time.sleep(0.02)

    stop.set()
    for t in threads:
        t.join(40)
    # The control plane survived: a new route goes live on both replicas.
    api.create(ie2e.ingress("after-soak", "after.example.com", "soak"))
    for r in replicas:
        wait_for(f"{r.name} to serve the route made after the soak",
                 lambda: ie2e.get(r.http, "after.example.com")[0] == 200, 15)

    # Descriptors fall back to the idle level once client connections are gone.
    base = min(idle_fds.values())
    for r in replicas:
        deadline = time.monotonic() + 20
        while (fds := r.sample()[1] - upstream_sockets(r.ing.proc.pid)) > base + FD_SLACK and \
                time.monotonic() < deadline:
            time.sleep(0.5)
        r.incarnations[-1]["end_fds"] = fds
        if fds > base + FD_SLACK:
            listing = subprocess.run(["ls", "-l", f"/proc/{r.ing.proc.pid}/fd"],
                                     capture_output=True, text=True).stdout
            kinds = collections.Counter(re.sub(r"\[\d+\]", "", line.split("-> ")[-1])
                                        for line in listing.splitlines()[1:])
            say(f"{r.name} descriptors after the load: {fds} ({dict(kinds)})")
            for line in subprocess.run(["ss", "-tanp"], capture_output=True,
                                       text=True).stdout.splitlines():
                if f"pid={r.ing.proc.pid}," in line:
                    say("  " + line)
            raise ie2e.Failure(f"{r.name} keeps {fds} descriptors after the load "
                               f"(idle before it: {base}, allowed + {FD_SLACK})")

    # ---- the report ----
    unexplained, causes = [], {}
    for replica, proto, start, stop_t, text in tally.failures:
        kind = windows.explain(replica, start, stop_t)
        if kind is None:
            unexplained.append(f"{replica} {proto} at +{start - begin:.2f}s: {text}")
        else:
            key = "replica down" if kind == "replica down" else "backend down"
            causes[key] = causes.get(key, 0) + 1
    say(f"soak of {duration:.0f} s: requests ok {tally.ok} (h2 counted per request); "
        f"failed {len(tally.failures)} (explained {causes}, unexplained {len(unexplained)}); "
        f"connection resets seen by clients {tally.resets}")
    say(f"churn: {churn_count[0]} API writes ({len(churn_count[1])} refused); faults {faults}; "
        f"relay cuts {relay.cuts}")
    sanitized = replicas[0].sanitized()
    growth = []
    for r in replicas:
        for inc in r.incarnations:
            s = inc["samples"]
            if not s:
                continue
            warm = [x for x in s if x[0] - inc["started"] >= min(10.0, duration / 4)]
            first = warm[0] if warm else s[0]
            last = s[-1]
            lived = last[0] - inc["started"]
            say(f"{r.name} pid {inc['pid']}: lived {lived:.0f} s, RSS {first[1] / 1024:.1f} -> "
                f"{last[1] / 1024:.1f} MiB (max {max(x[1] for x in s) / 1024:.1f}), descriptors "
                f"under load {first[2]} -> {last[2]}, idle at end {inc.get('end_fds', '-')}"
                f"{' (SIGKILLed)' if inc['killed'] else ''}")
            whole = not inc["killed"] and inc is r.incarnations[0]
            if whole and not sanitized and last[1] > first[1] * 1.10 + 8 * 1024:
                growth.append(f"{r.name}: RSS {first[1]} -> {last[1]} kB")
    for u in unexplained[:20]:
        say("unexplained failure: " + u)
    check(not unexplained, f"{len(unexplained)} failed requests not explained by a fault")
    check(not growth, f"memory grew: {growth}")
    check(tally.ok.get("http1", 0) > 100 and tally.ok.get("tls", 0) > 50 and
          tally.ok.get("h2", 0) > 100, f"too little load got through: {tally.ok}")
    check(faults["leader kills"] >= 1 and faults["backend kills"] >= 1 and faults["api cuts"] >= 1,
          f"not every fault ran: {faults}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--duration", type=float, default=40.0)
    args = ap.parse_args()
    for tool in ("h2load", "openssl"):
        if not ie2e.shutil.which(tool):
            print(f"SKIP: {tool} not installed")
            return 77
    sys.argv = [sys.argv[0], args.build_dir]
    return ie2e.main(lambda env: test(env, args.duration))


if __name__ == "__main__":
    sys.exit(main())
