#!/usr/bin/env bash
# The hello-pks tutorial walk as a test: examples/hello-pks/run on free ports, using what the
# build directory already holds.   walk_test.sh PATH/TO/examples/hello-pks/run BUILD_DIR
# Until a kop-ingress binary exists, run exits 3 after checking the app instances; this test
# then reports SKIP (77) instead of passing.
set -uo pipefail
run=${1:?usage: walk_test.sh RUN_SCRIPT BUILD_DIR}
build=${2:?usage: walk_test.sh RUN_SCRIPT BUILD_DIR}
# Six free loopback ports (bound to port 0, then released for the processes to take).
read -r http https app1 app2 metrics admin < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
PY
)
KOP_HELLO_HTTP_PORT=$http KOP_HELLO_HTTPS_PORT=$https KOP_HELLO_APP_PORTS="$app1 $app2" \
  KOP_HELLO_METRICS_PORT=$metrics KOP_HELLO_ADMIN_PORT=$admin \
  timeout 100 "$run" --build-dir "$build" --no-build
rc=$?
[ "$rc" -eq 3 ] && { echo "SKIP: kop-ingress is not built yet"; exit 77; }
exit "$rc"
