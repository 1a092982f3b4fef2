"""Command line: `python -m lib_diffdiff demo --out DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib_diffdiff", description="Differential Diffusion tools that need no WebUI.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the engine offline on a built-in picture and write PNGs")
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="folder for the PNGs (default: demo-out)")
    demo.add_argument("--steps", type=int, default=30)
    demo.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    if args.command == "demo":
        from .demo import run

        for path in run(args.out, steps=args.steps, seed=args.seed):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
