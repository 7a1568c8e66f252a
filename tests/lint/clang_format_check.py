#!/usr/bin/env python3
"""Fails when a git-tracked C++ file (.cpp, .h) is not formatted as the root .clang-format
says, and lists those files with the command that fixes them. Also fails on a C++ source with
another suffix (.cc, .cxx, .hpp...): the tree has one naming convention.

  clang_format_check.py SOURCE_ROOT [CLANG_FORMAT]

Reads the work tree (what is about to be committed), not the last commit. Exit 0 when every
file is formatted, 1 otherwise (a missing clang-format or a tree that is not a git checkout is
a failure too: CI must not pass a check it did not run).
"""
import os
import shutil
import subprocess
import sys

EXTENSIONS = (".cpp", ".h")
OTHER_SUFFIXES = (".cc", ".cxx", ".c++", ".hpp", ".hh", ".hxx")
BATCH = 100  # files per clang-format run (keeps argv short)


def tracked_files(root):
    out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", *("*" + e for e in EXTENSIONS)],
                         check=True, capture_output=True).stdout
    names = [n.decode() for n in out.split(b"\0") if n]
    # A tracked file deleted in the work tree (mid-change) has nothing to format.
    return [n for n in names if os.path.isfile(os.path.join(root, n))]


def misnamed(root):
    out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", *("*" + e for e in OTHER_SUFFIXES)],
                         check=True, capture_output=True).stdout
    return [n.decode() for n in out.split(b"\0") if n]


def unformatted(root, tool, files):
    bad = []
    for i in range(0, len(files), BATCH):
        batch = files[i:i + BATCH]
        r = subprocess.run([tool, "--style=file", "--dry-run", "--Werror", *batch], cwd=root,
                           capture_output=True, text=True)
        if r.returncode == 0:
            continue
        # Each finding is reported as "path:line:col: error: ..."; a file may have several.
        named = {line.split(":", 1)[0] for line in r.stderr.splitlines()} & set(batch)
        if not named:
            raise RuntimeError(f"{tool} failed without naming a file:\n{r.stderr[-2000:]}")
        bad += [path for path in batch if path in named]
    return bad


def main():
    if len(sys.argv) not in (2, 3):
        print(f"usage: {sys.argv[0]} SOURCE_ROOT [CLANG_FORMAT]", file=sys.stderr)
        return 2
    root = sys.argv[1]
    tool = sys.argv[2] if len(sys.argv) == 3 else "clang-format-16"
    if shutil.which(tool) is None:
        print(f"{tool} is not installed (scripts/install-deps installs it)")
        return 1
    if not os.path.isfile(os.path.join(root, ".clang-format")):
        print(f"{root}/.clang-format is missing")
        return 1
    try:
        files = tracked_files(root)
        bad = unformatted(root, tool, files)
        wrong_names = misnamed(root)
    except (subprocess.CalledProcessError, RuntimeError) as e:
        print(f"clang-format check could not run: {e}")
        return 1
    if wrong_names:
        print(f"{len(wrong_names)} C++ files do not use the tree's suffixes (.cpp, .h):")
        for path in wrong_names:
            print("  " + path)
    if bad:
        print(f"{len(bad)} of {len(files)} files are not clang-formatted:")
        for path in bad:
            print("  " + path)
        print(f"fix: (cd {root} && {tool} -i " + " ".join(bad) + ")")
        return 1
    if wrong_names:
        return 1
    print(f"{len(files)} files clang-formatted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
