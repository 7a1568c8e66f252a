#!/usr/bin/env python3
"""Fails when a git-tracked meson.build decides what to build from whether a file or another
module's variable exists (is_variable, fs.is_file, fs.exists, fs.is_dir): such a guard turns a
missing module or test into one silently left out. What is optional is a meson_options.txt
option; everything else is required, so a missing piece is a configure error.

  meson_guards_check.py SOURCE_ROOT

Exit 0 when no meson.build holds a guard, 1 otherwise (listing file:line), also when the tree
is not a git checkout (CI must not pass a check it did not run).
"""
import re
import subprocess
import sys

GUARD = re.compile(r"\b(is_variable|fs\.(is_file|exists|is_dir))\s*\(")


def main():
    root = sys.argv[1]
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", "meson.build",
                              "*/meson.build"], check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"cannot list the tracked meson.build files: {e}")
        return 1
    found = []
    for name in (n.decode() for n in out.split(b"\0") if n):
        try:
            with open(f"{root}/{name}", encoding="utf-8") as f:
                lines = f.readlines()
        except FileNotFoundError:
            continue  # deleted in the work tree, mid-change
        for number, line in enumerate(lines, 1):
            code = line.split("#", 1)[0]
            if GUARD.search(code):
                found.append(f"{name}:{number}: {line.strip()}")
    if found:
        print("meson.build guards that silently drop a module or test (make the piece required, "
              "or an option in meson_options.txt):")
        print("\n".join(found))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
