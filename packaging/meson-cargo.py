#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The two things meson.build asks of cargo, so that meson stays a thin wrapper.

  meson-cargo.py scheds --source DIR --cargo CARGO
      Print one line per scheduler binary: "<binary> <package> <dir>", for every
      binary target of every workspace package under scheds/ (fixtures/ and crates/
      are not shipped). Asks `cargo metadata --no-deps`, which needs no network.

  meson-cargo.py docs --source DIR
      Print the documentation to install, one path a line, relative to the source:
      README.md and docs/*.md (meson has no glob, on purpose).

  meson-cargo.py build --source DIR --cargo CARGO --target-dir DIR --out-dir DIR
                       [--offline] PACKAGE...
      Run `cargo build --release --locked [--offline]` for the packages, then copy
      their binaries into --out-dir, where meson expects its outputs. A binary whose
      bytes did not change is not copied again, so the man pages and completions made
      from it are not remade.

  meson-cargo.py generate BINARY KIND OUTPUT
      Run `BINARY --generate KIND` and write what it prints to OUTPUT: the man page
      and completions come from each binary's own option definitions.

Python because meson itself runs on Python: a build host that has meson has this.
Cargo runs from the source root so that the workspace's .cargo/config.toml applies
even when the meson build directory lies outside the source tree.
"""

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def die(msg):
    print(f"meson-cargo: error: {msg}", file=sys.stderr)
    sys.exit(1)


def scheds(args):
    cmd = [args.cargo, "metadata", "--no-deps", "--format-version", "1",
           "--manifest-path", str(args.source / "Cargo.toml")]
    try:
        out = subprocess.run(cmd, cwd=args.source, check=True, stdout=subprocess.PIPE).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        die(f"failed to list the workspace with cargo metadata: {e}")
    scheds_dir = (args.source / "scheds").resolve()
    lines = []
    for pkg in json.loads(out)["packages"]:
        manifest = Path(pkg["manifest_path"]).resolve()
        if manifest.parent.parent != scheds_dir:
            continue
        for target in pkg["targets"]:
            if "bin" in target["kind"]:
                lines.append(f"{target['name']} {pkg['name']} {manifest.parent.name}")
    if not lines:
        die(f"no scheduler binaries found under {scheds_dir}")
    print("\n".join(sorted(lines)))


def docs(args):
    paths = [Path("README.md")] + sorted(p.relative_to(args.source) for p in (args.source / "docs").glob("*.md"))
    print("\n".join(str(p) for p in paths))


def build(args):
    cmd = [args.cargo, "build", "--release", "--locked", "--target-dir", str(args.target_dir)]
    if args.offline:
        cmd.append("--offline")
    for pkg in args.packages:
        cmd += ["--package", pkg]
    print("meson-cargo: " + " ".join(cmd), flush=True)
    try:
        rc = subprocess.run(cmd, cwd=args.source).returncode
    except OSError as e:
        die(f"failed to run {args.cargo}: {e}")
    if rc != 0:
        die(f"cargo build failed with status {rc}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for binary in args.binaries.split(","):
        src = args.target_dir / "release" / binary
        dst = args.out_dir / binary
        if not src.is_file():
            die(f"cargo built no {src}")
        if dst.is_file() and filecmp.cmp(src, dst, shallow=False):
            continue
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)


def generate(args):
    binary = args.binary.resolve()
    try:
        out = subprocess.run([str(binary), "--generate", args.kind], check=True, stdout=subprocess.PIPE).stdout
    except OSError as e:
        die(f"failed to run {binary} --generate {args.kind}: {e}")
    except subprocess.CalledProcessError as e:
        die(f"{binary} --generate {args.kind} exited with status {e.returncode}: its main() must read "
            "its options with `let opts: Opts = scx_core::cli::parse();`, which answers --generate "
            "before any check of the kernel")
    if not out.strip():
        die(f"{binary} --generate {args.kind} printed nothing")
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_bytes(out)
    os.replace(tmp, args.output)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scheds")
    d = sub.add_parser("docs")
    b = sub.add_parser("build")
    g = sub.add_parser("generate")
    g.add_argument("binary", type=Path)
    g.add_argument("kind", choices=["man", "bash", "zsh", "fish"])
    g.add_argument("output", type=Path)
    for q in (s, d, b):
        q.add_argument("--source", type=Path, required=True)
    for q in (s, b):
        q.add_argument("--cargo", required=True)
    b.add_argument("--target-dir", type=Path, required=True)
    b.add_argument("--out-dir", type=Path, required=True)
    b.add_argument("--binaries", required=True, help="comma-separated binary names to copy")
    b.add_argument("--offline", action="store_true")
    b.add_argument("packages", nargs="+")
    args = p.parse_args()
    if args.cmd != "generate":
        args.source = args.source.resolve()
    {"scheds": scheds, "docs": docs, "build": build, "generate": generate}[args.cmd](args)


if __name__ == "__main__":
    main()
