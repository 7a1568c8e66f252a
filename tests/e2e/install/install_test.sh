#!/usr/bin/env bash
# `meson install` into a scratch root, then build and run a program against the installed
# headers, library and kop.pc, as a project that links libkop would.
#   install_test.sh BUILD_DIR CONSUMER_CPP [SANITIZERS (meson's b_sanitize, e.g. address,undefined)]
set -euo pipefail
build=$1 consumer=$2 sanitize=${3:-none}
extra=()
[ "$sanitize" != none ] && extra=(-fsanitize="$sanitize")
root=$(mktemp -d); trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --no-rebuild --quiet >/dev/null
pc=$(find "$root" -name kop.pc | head -n1)
[ -n "$pc" ] || { echo "FAIL: kop.pc not installed"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$pc")
export PKG_CONFIG_PATH=$(dirname "$pc")
# The .pc names the final prefix; point it at the scratch root.
flags=$(pkg-config --cflags --libs kop | sed "s|$prefix|$root$prefix|g")
libdir=$(pkg-config --variable=libdir kop | sed "s|$prefix|$root$prefix|")
# shellcheck disable=SC2086
g++ -std=c++20 "${extra[@]}" "$consumer" -o "$root/consumer" $flags
out=$(LD_LIBRARY_PATH=$libdir "$root/consumer")
echo "$out"
[ "$out" = "$(meson introspect "$build" --projectinfo | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])') installed" ] \
  || { echo "FAIL: unexpected output"; exit 1; }
echo "PASS"
