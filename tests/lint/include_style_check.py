#!/usr/bin/env python3
"""Fails when a git-tracked .cpp/.h file includes a third-party header with quotes: libraries
from outside the repository (abseil, fmt, RapidJSON, re2, nghttp2, OpenSSL, yaml-cpp, cpprest,
Boost, GoogleTest, Google Benchmark) are included as <lib/header.h>, the repository's own
headers as "path.h", so an include says where its header comes from.

  include_style_check.py SOURCE_ROOT

Exit 0 when every such include uses <>, 1 otherwise (listing file:line), also when the tree is
not a git checkout (CI must not pass a check it did not run).
"""
import re
import subprocess
import sys

THIRD_PARTY = ("absl", "fmt", "rapidjson", "re2", "nghttp2", "openssl", "yaml-cpp", "cpprest",
               "boost", "gtest", "gmock", "benchmark")
QUOTED = re.compile(r'^\s*#\s*include\s+"(' + "|".join(re.escape(p) for p in THIRD_PARTY) +
                    r')/')


def main():
    root = sys.argv[1]
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", "*.cpp", "*.h"],
                             check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"cannot list the tracked C++ files: {e}")
        return 1
    found = []
    for name in (n.decode() for n in out.split(b"\0") if n):
        try:
            with open(f"{root}/{name}", encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except FileNotFoundError:
            continue  # deleted in the work tree, mid-change
        for number, line in enumerate(lines, 1):
            if QUOTED.match(line):
                found.append(f"{name}:{number}: {line.strip()}")
    if found:
        print("third-party headers included with quotes (write #include <lib/header.h>; "
              "quotes are for the repository's own headers):")
        print("\n".join(found))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
