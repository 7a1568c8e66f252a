#!/usr/bin/env bash
# End-to-end test of examples/hello-pks' app with real sockets and real curl:
#   hello_app_test.sh PATH/TO/hello-pks-app
# Two instances on free ports (port 0; the app prints the port it got) answer with their own
# pod/node JSON; keep-alive carries two requests on one connection; an idle connection does not
# block others; pipelined requests, HEAD, 405, Connection: close and HTTP/1.0 are framed right;
# identity falls back to POD_NAME/NODE_NAME and then to hostname(-port); SIGTERM exits 0 promptly
# even with a connection open.
# shellcheck disable=SC2154  # PORT_x and PID_x are assigned by start() through printf -v.
set -uo pipefail

app=${1:?usage: hello_app_test.sh PATH/TO/hello-pks-app}
tmp=$(mktemp -d)
pids=()
failures=0
checks=0
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

check() {  # check NAME WANT GOT
  checks=$((checks + 1))
  if [ "$2" == "$3" ]; then
    echo "ok   $1"
  else
    failures=$((failures + 1))
    printf 'FAIL %s\n  want: %q\n  got:  %q\n' "$1" "$2" "$3"
  fi
}

# start NAME ARGS... : runs the app on 127.0.0.1:0, sets PORT_<NAME> and PID_<NAME>.
start() {
  local name=$1
  shift
  "$app" --listen 127.0.0.1:0 "$@" >"$tmp/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 200); do
    grep -q '^listening on' "$tmp/$name.log" && break
    sleep 0.05
  done
  local port
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/$name.log")
  if [ -z "$port" ]; then
    echo "FAIL $name did not start:"; cat "$tmp/$name.log"; exit 1
  fi
  printf -v "PORT_$name" '%s' "$port"
  printf -v "PID_$name" '%s' "$pid"
}

start a --pod hello-pks-a --node node-1
start b --pod hello-pks-b --node node-2
check "instances got distinct ports" 1 "$([ "$PORT_a" != "$PORT_b" ] && echo 1)"

# Each instance answers with its own identity and the request path (query string dropped).
check "instance a JSON" \
  '{"message":"Hello from hello-pks","node":"node-1","pod":"hello-pks-a","path":"/"}' \
  "$(curl -sS --max-time 5 "http://127.0.0.1:$PORT_a/")"
check "instance b JSON with path" \
  '{"message":"Hello from hello-pks","node":"node-2","pod":"hello-pks-b","path":"/some/path"}' \
  "$(curl -sS --max-time 5 "http://127.0.0.1:$PORT_b/some/path?x=1")"
check "content type" "application/json" \
  "$(curl -sS --max-time 5 -o /dev/null -w '%{content_type}' "http://127.0.0.1:$PORT_a/")"

# Keep-alive: curl given two URLs reuses the connection (one connect) and gets both answers.
curl -sv --max-time 5 "http://127.0.0.1:$PORT_a/one" "http://127.0.0.1:$PORT_a/two" \
  >"$tmp/ka.out" 2>"$tmp/ka.err"
check "keep-alive: one TCP connect for two requests" 1 "$(grep -c '^\* Connected to' "$tmp/ka.err")"
check "keep-alive: connection reused" 1 "$(grep -c 'Re-using existing connection' "$tmp/ka.err")"
check "keep-alive: both answers" "/one /two" \
  "$(sed -n 's/.*"path":"\([^"]*\)".*/\1/p' "$tmp/ka.out" | paste -sd' ')"

# An idle open connection must not stop other clients from being served.
exec 3<>"/dev/tcp/127.0.0.1/$PORT_b"
check "served while another connection idles" 200 \
  "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_b/")"

# Pipelining on that connection: two requests in one write, answered in order; the second asks
# to close, so the server ends the stream and cat returns.
printf 'GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
raw=$(timeout 5 cat <&3 | tr -d '\r')
exec 3<&-
check "pipelined: two 200s" 2 "$(grep -c '^HTTP/1.1 200 OK$' <<<"$raw")"
check "pipelined: order" "/p1 /p2" "$(sed -n 's/.*"path":"\([^"]*\)".*/\1/p' <<<"$raw" | paste -sd' ')"
check "pipelined: close announced" 1 "$(grep -c '^Connection: close$' <<<"$raw")"

# A request with a body (Content-Length) is consumed whole before the next one is read.
exec 3<>"/dev/tcp/127.0.0.1/$PORT_a"
printf 'GET /b1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
raw=$(timeout 5 cat <&3 | tr -d '\r')
exec 3<&-
check "body skipped, next request framed" "/b1 /b2" \
  "$(sed -n 's/.*"path":"\([^"]*\)".*/\1/p' <<<"$raw" | paste -sd' ')"

check "HEAD: 200, no body" "200 0" \
  "$(curl -s --max-time 5 -I -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$PORT_a/")"
check "POST: 405" 405 \
  "$(curl -s --max-time 5 -X POST -d x -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_a/")"
check "HTTP/1.0: answered and closed" "200 close" \
  "$(curl -s --max-time 5 --http1.0 -D - -o /dev/null "http://127.0.0.1:$PORT_a/" | tr -d '\r' |
     awk '/^HTTP/{c=$2} tolower($0) ~ /^connection: close/{k="close"} END{print c, k}')"
check "malformed request: 400" "HTTP/1.1 400 Bad Request" \
  "$(printf 'NONSENSE\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT_a; cat >&3; head -n1 <&3" | tr -d '\r')"

# Identity fallbacks: environment, then hostname and hostname-port.
POD_NAME=env-pod NODE_NAME=env-node start c
check "identity from POD_NAME/NODE_NAME" '"node":"env-node","pod":"env-pod"' \
  "$(curl -sS --max-time 5 "http://127.0.0.1:$PORT_c/" | grep -o '"node":"[^"]*","pod":"[^"]*"')"
env -u POD_NAME -u NODE_NAME "$app" --listen 127.0.0.1:0 >"$tmp/d.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -q '^listening on' "$tmp/d.log" && break; sleep 0.05; done
port_d=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/d.log")
h=$(hostname)
check "identity defaults to hostname and hostname-port" "\"node\":\"$h\",\"pod\":\"$h-$port_d\"" \
  "$(curl -sS --max-time 5 "http://127.0.0.1:$port_d/" | grep -o '"node":"[^"]*","pod":"[^"]*"')"

check "bad --listen rejected" 2 "$("$app" --listen nonsense >/dev/null 2>&1; echo $?)"

# SIGTERM with an idle connection open: exit 0 within 5 s (sanitizer builds add about 1 s at exit).
exec 3<>"/dev/tcp/127.0.0.1/$PORT_a"
kill -TERM "$PID_a"
rc=timeout
for _ in $(seq 100); do
  if ! kill -0 "$PID_a" 2>/dev/null; then wait "$PID_a"; rc=$?; break; fi
  sleep 0.05
done
exec 3<&-
check "SIGTERM: clean exit with a connection open" 0 "$rc"

echo "$((checks - failures))/$checks checks passed"
[ "$failures" -eq 0 ]
