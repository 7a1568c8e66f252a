#!/usr/bin/env bash
# `meson install` into a scratch root, then build and run programs against the installed
# headers, library and kop.pc, as a project that links libkop would:
#   - what is installed: the library, the headers, kop.pc, and not kop-local (-Dinstall_tools);
#   - kop.pc: Cflags carry -std=c++20, Libs.private names each library once;
#   - consumer.cpp and every code block of the docs marked `<!-- file: NAME.cpp -->` compile with
#     -Wall -Wextra -Werror (designated initializers of options structs included);
#   - docs/testing.md's tests (stamp_test.cpp) link with gtest_main and pass;
#   - kop-gen is installed (kop.pc's kop_gen) and docs/typed-crds.md's example builds and runs on
#     the header it generates from the Website CRD;
#   - the getting-started operator (configmap_mirror.cpp) runs against kop-local: a ConfigMap
#     annotated for two namespaces is copied there, an edit reaches the copies, a deleted copy
#     comes back, and deleting the source deletes the copies through the finalizer.
#   install_test.sh BUILD_DIR CONSUMER_CPP SANITIZERS SOURCE_ROOT KOP_LOCAL
set -euo pipefail
build=$1 consumer=$2 sanitize=${3:-none} src=$4 kop_local=$5
extra=()
[ "$sanitize" != none ] && extra=(-fsanitize="$sanitize")
root=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$root"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# libkop alone (the tags docs/getting-started.md gives), so the rest of the tree need not be built.
meson install -C "$build" --destdir "$root" --no-rebuild --quiet --tags libkop,devel >/dev/null
pc=$(find "$root" -name kop.pc | head -n1)
[ -n "$pc" ] || fail "kop.pc not installed"
prefix=$(sed -n 's/^prefix=//p' "$pc")
export PKG_CONFIG_PATH=$(dirname "$pc")
[ -n "$(find "$root" -name 'libkop.so*' | head -n1)" ] || fail "libkop.so not installed"
[ -f "$root$prefix/include/kop/testing/env.h" ] || fail "headers not installed (kop/testing/env.h)"
# A plain `meson install` (no tags) would not install kop-local unless -Dinstall_tools=true.
tools=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="install_tools"][0])')
if [ "$tools" = False ] && meson introspect "$build" --installed | grep -q '/kop-local"'; then
  fail "kop-local is installed without -Dinstall_tools=true"
fi

# kop.pc's own promises.
pkg-config --cflags kop | grep -qw -- '-std=c++20' || fail "Cflags lack -std=c++20: $(pkg-config --cflags kop)"
dups=$(sed -n 's/^Libs.private: //p' "$pc" | tr ' ' '\n' | sed '/^$/d' | sort | uniq -d)
[ -z "$dups" ] || fail "Libs.private repeats: $dups"

# The .pc names the final prefix; point it at the scratch root.
flags=$(pkg-config --cflags --libs kop | sed "s|$prefix|$root$prefix|g")
libdir=$(pkg-config --variable=libdir kop | sed "s|$prefix|$root$prefix|")
strict=(-Wall -Wextra -Werror "${extra[@]}")
# shellcheck disable=SC2086
g++ "${strict[@]}" "$consumer" -o "$root/consumer" $flags
out=$(LD_LIBRARY_PATH=$libdir "$root/consumer")
echo "$out"
[ "$out" = "$(meson introspect "$build" --projectinfo | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])') installed" ] \
  || fail "unexpected output"

# The docs' code, as a user copies it: every block after a `<!-- file: NAME -->` line (blocks
# with the same NAME are concatenated in order).
mkdir -p "$root/docs"
python3 - "$root/docs" "$src/docs/getting-started.md" "$src/docs/testing.md" <<'PY'
import re, sys
out = sys.argv[1]
files = {}
for md in sys.argv[2:]:
    text = open(md).read()
    for m in re.finditer(r'<!-- file: (\S+) -->\s*```\w*\n(.*?)```', text, re.S):
        files.setdefault(m.group(1), []).append(m.group(2))
for name, parts in files.items():
    open(f'{out}/{name}', 'w').write('\n'.join(parts))
print('docs snippets:', ' '.join(sorted(files)))
PY
[ -f "$root/docs/configmap_mirror.cpp" ] || fail "docs/getting-started.md has no configmap_mirror.cpp"
gtest_flags=$(pkg-config --cflags gtest 2>/dev/null || true)
for f in "$root"/docs/*.cpp; do
  # shellcheck disable=SC2086
  g++ "${strict[@]}" -c "$f" -o "${f%.cpp}.o" $flags $gtest_flags || fail "docs snippet $(basename "$f") does not compile with ${strict[*]}"
done
# shellcheck disable=SC2086
g++ "${strict[@]}" "$root/docs/configmap_mirror.cpp" -o "$root/configmap-mirror" $flags
# docs/testing.md's tests run as written (in-process: kop::local).
if [ -f "$root/docs/stamp_test.cpp" ] && pkg-config --exists gtest_main; then
  # shellcheck disable=SC2086
  g++ "${strict[@]}" "$root/docs/stamp_test.o" -o "$root/stamp-test" $flags $(pkg-config --libs gtest_main)
  KOP_TEST_KUBECONFIG= LD_LIBRARY_PATH=$libdir "$root/stamp-test" >"$root/stamp-test.log" 2>&1 \
    || { tail -n 40 "$root/stamp-test.log"; fail "docs/testing.md's tests failed"; }
  grep -E '^\[  PASSED  \]' "$root/stamp-test.log"
fi

# kop-gen as docs/typed-crds.md runs it: installed where kop.pc's kop_gen says, it turns the
# Website CRD into a header, and the docs' example (<!-- typed: NAME --> blocks) compiles against
# it and the installed package, and runs.
kop_gen=$(pkg-config --variable=kop_gen kop | sed "s|$prefix|$root$prefix|")
[ -x "$kop_gen" ] || fail "kop-gen is not installed where kop.pc says ($kop_gen)"
mkdir -p "$root/typed"
"$kop_gen" --namespace website::api --output "$root/typed/website_types.h" \
  "$src/crds/websites.examples.kop.dev.yaml" || fail "kop-gen failed on the Website CRD"
python3 - "$root/typed" "$src/docs/typed-crds.md" <<'PY'
import re, sys
for m in re.finditer(r'<!-- typed: (\S+) -->\s*```\w*\n(.*?)```', open(sys.argv[2]).read(), re.S):
    open(f'{sys.argv[1]}/{m.group(1)}', 'w').write(m.group(2))
PY
[ -f "$root/typed/typed_website.cpp" ] || fail "docs/typed-crds.md has no typed_website.cpp"
# shellcheck disable=SC2086
g++ "${strict[@]}" "$root/typed/typed_website.cpp" -o "$root/typed-website" $flags \
  || fail "docs/typed-crds.md's example does not compile with ${strict[*]}"
typed_out=$(LD_LIBRARY_PATH=$libdir "$root/typed-website")
[ "$typed_out" = "$(printf '<h1>hi</h1> replicas=1\nReady=True')" ] || fail "typed example printed: $typed_out"
echo "kop-gen: typed_website OK"

# The mirror against kop-local, driven with kubectl as a user would.
command -v kubectl >/dev/null || { echo "SKIP: the mirror run needs kubectl"; echo PASS; exit 0; }
: >"$root/kop-local.log"
"$kop_local" --listen 127.0.0.1:0 --write-kubeconfig "$root/kubeconfig" 2>"$root/kop-local.log" &
pids+=($!)
for _ in $(seq 100); do grep -q serving "$root/kop-local.log" && break; sleep 0.1; done
grep -q serving "$root/kop-local.log" || fail "kop-local did not start: $(cat "$root/kop-local.log")"
export KUBECONFIG=$root/kubeconfig
LD_LIBRARY_PATH=$libdir "$root/configmap-mirror" 127.0.0.1:0 2>"$root/mirror.log" &
pids+=($!)
k() { kubectl --request-timeout=10s "$@"; }
until_ok() {  # until_ok WHAT CMD...: retries CMD for up to 30 s
  local what=$1; shift
  for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "--- mirror log"; cat "$root/mirror.log"; fail "$what"
}
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
  annotations: {mirror.example.com/to: "team-a,team-b"}
data: {color: blue}
YAML
data_is() { [ "$(k get configmap settings -n "$1" -o jsonpath='{.data.color}')" = "$2" ]; }
until_ok "copy in team-a" data_is team-a blue
until_ok "copy in team-b" data_is team-b blue
k patch configmap settings -n default --type merge -p '{"data":{"color":"red"}}' >/dev/null
until_ok "edit reaches team-a" data_is team-a red
until_ok "edit reaches team-b" data_is team-b red
k delete configmap settings -n team-b >/dev/null
until_ok "deleted copy comes back" data_is team-b red
[ "$(k get configmap settings -n default -o jsonpath='{.metadata.finalizers[0]}')" = mirror.example.com/cleanup ] \
  || fail "no finalizer on the source"
k delete configmap settings -n default --wait=false >/dev/null
gone() { ! k get configmap settings -n "$1" >/dev/null 2>&1; }
until_ok "source deleted" gone default
until_ok "copy in team-a deleted" gone team-a
until_ok "copy in team-b deleted" gone team-b
echo "PASS"
