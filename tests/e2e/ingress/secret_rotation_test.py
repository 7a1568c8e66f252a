#!/usr/bin/env python3
"""A TLS Secret rotated in place (tls.crt/tls.key replaced through the REST API) and the new
certificate served by the same kop-ingress process, without a restart: `openssl s_client`
shows the new serial and subject for SNI hello-pks.example.com, `curl -v` over HTTP/2 sees the
new subject and gets 200, and the process id never changes. Rotated twice, so the second
rotation is not the first config the proxy ever had.

  secret_rotation_test.py BUILD_DIR
"""
import os
import re
import subprocess
import sys

import ie2e
from ie2e import HOST, check, say, wait_for


def served_cert(port):
    """(serial, subject) of the certificate served for SNI HOST, by openssl s_client."""
    s = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-servername", HOST, "-alpn", "h2,http/1.1"],
                       input="", capture_output=True, text=True, errors="replace", timeout=10)
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", s.stdout, re.S)
    if not pem:
        return None
    x = subprocess.run(["openssl", "x509", "-noout", "-serial", "-subject"], input=pem.group(0),
                       capture_output=True, text=True, timeout=10, check=True).stdout
    serial = re.search(r"serial=([0-9A-Fa-f]+)", x).group(1).upper()
    subject = re.search(r"subject=\s*(.*)", x).group(1).strip()
    return serial, subject


def test(env):
    app = env.binary("examples/hello-pks/hello-app/hello-pks-app")
    api, kubeconfig = ie2e.start_kop_local(env)
    port = ie2e.port_free_on(["127.0.0.2"])
    ie2e.start_backend(env, app, "127.0.0.2", port, "hello-pks-1")
    ing = ie2e.Ingress(env, kubeconfig)
    pid = ing.proc.pid

    certs = []
    for gen in range(3):
        certs.append(ie2e.make_cert(os.path.join(env.tmp, f"cert{gen}"),
                                    f"{HOST} rotation {gen}", [HOST, "*.example.com"]))
    check(len({c[2] for c in certs}) == 3, "openssl made equal serials")

    api.create(ie2e.service("hello-pks"))
    api.create(ie2e.endpoint_slice("hello-pks-1", "hello-pks", ["127.0.0.2"], port))
    api.create(ie2e.tls_secret("hello-pks-tls", certs[0][0], certs[0][1]))
    api.create(ie2e.ingress("hello-pks", HOST, "hello-pks", tls_secret="hello-pks-tls"))

    for gen, (crt, key, serial) in enumerate(certs):
        if gen > 0:
            api.replace(ie2e.tls_secret("hello-pks-tls", crt, key))
            say(f"Secret hello-pks-tls rotated to serial {serial}")
        got = wait_for(f"serial {serial} to be served",
                       lambda: (c := served_cert(ing.https)) and c[0] == serial and c, 15, 0.1)
        check(f"rotation {gen}" in got[1], f"served subject {got[1]!r}, want 'rotation {gen}'")
        say(f"openssl s_client: serial={got[0]} subject={got[1]}")
        r = subprocess.run(["curl", "-sv", "-k", "--http2", "--max-time", "5", "--resolve",
                            f"{HOST}:{ing.https}:127.0.0.1", f"https://{HOST}:{ing.https}/"],
                           capture_output=True, text=True, timeout=15)
        check(r.returncode == 0 and '"pod":"hello-pks-1"' in r.stdout,
              f"curl https failed: {r.stderr[-500:]}")
        check(re.search(r"subject: CN=" + re.escape(f"{HOST} rotation {gen}") + r"\s*$",
                        r.stderr, re.M), f"curl -v does not show the rotated subject:\n{r.stderr}")
        check(re.search(r"^< HTTP/2 200", r.stderr, re.M), "curl: not HTTP/2 200")
        check(ing.proc.poll() is None and ing.proc.pid == pid, "kop-ingress restarted or exited")
    say("certificate rotated twice without a restart")


if __name__ == "__main__":
    sys.exit(ie2e.main(test))
