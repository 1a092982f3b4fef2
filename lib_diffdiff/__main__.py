"""Command line: `python -m lib_diffdiff demo --out DIR`, `python -m lib_diffdiff bench reliability`."""

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
    bench = commands.add_parser("bench", help="measure the method on the weight-free reference model")
    benchmarks = bench.add_subparsers(dest="benchmark", required=True)
    reliability_parser = benchmarks.add_parser(
        "reliability", help="the paper's reliability score R of every method, and a plot of the trends"
    )
    reliability_parser.add_argument("--images", type=int, default=32, help="how many built-in pictures to edit (default: 32)")
    reliability_parser.add_argument("--steps", type=int, default=20)
    reliability_parser.add_argument("--seed", type=int, default=0)
    reliability_parser.add_argument("--out", type=Path, default=Path("trends.png"), help="where to write the plot (default: trends.png)")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from .demo import run

        for path in run(args.out, steps=args.steps, seed=args.seed):
            print(f"wrote {path}")
    if args.command == "bench":
        from .bench import reliability

        try:
            result = reliability(images=args.images, steps=args.steps, seed=args.seed)
        except ValueError as error:
            reliability_parser.error(str(error))
        print(result.table())
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result.plot().save(args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
