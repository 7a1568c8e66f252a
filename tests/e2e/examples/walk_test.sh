#!/usr/bin/env bash
# The hello-pks tutorial walk as a test: examples/hello-pks/run on free ports, using what the
# build directory already holds.   walk_test.sh PATH/TO/examples/hello-pks/run BUILD_DIR
# Until a kop-ingress binary exists, run exits 3 after checking the app instances; this test
# then reports SKIP (77) instead of passing. Further arguments go to run (e.g. --gateway).
set -uo pipefail
run=${1:?usage: walk_test.sh RUN_SCRIPT BUILD_DIR [RUN_FLAG...]}
build=${2:?usage: walk_test.sh RUN_SCRIPT BUILD_DIR [RUN_FLAG...]}
shift 2
# Six free loopback ports (bound to port 0, then released for the processes to take), and a
# Gateway port offset whose ports 80 and 443 are free on 127.0.1.1 (run --gateway).
read -r http https app1 app2 metrics admin offset < <(python3 - <<'PY'
import random
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
ports = [s.getsockname()[1] for s in socks]
for _ in range(100):
    offset = random.randrange(20000, 60000)
    try:
        for p in (80, 443):
            t = socket.socket()
            t.bind(("127.0.1.1", offset + p))
            t.close()
        break
    except OSError:
        t.close()
print(*ports, offset)
PY
)
KOP_HELLO_HTTP_PORT=$http KOP_HELLO_HTTPS_PORT=$https KOP_HELLO_APP_PORTS="$app1 $app2" \
  KOP_HELLO_METRICS_PORT=$metrics KOP_HELLO_ADMIN_PORT=$admin KOP_HELLO_GATEWAY_OFFSET=$offset \
  timeout 100 "$run" --build-dir "$build" --no-build "$@"
rc=$?
[ "$rc" -eq 3 ] && { echo "SKIP: kop-ingress is not built yet"; exit 77; }
exit "$rc"
