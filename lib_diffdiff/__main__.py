"""Command line: `diffdiff demo --out DIR`, `diffdiff bench reliability`, `diffdiff bench fill` (or `python -m lib_diffdiff ...`)."""

from __future__ import annotations

from pathlib import Path

from .cli import ArgumentParser, InputError, check_output_file, check_output_folder, fail, seed_number, whole_number

PROG = "diffdiff"


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog=PROG, description="Differential Diffusion tools that need no WebUI, no GPU and no weights.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    demo = commands.add_parser(
        "demo",
        help="edit a built-in picture offline and write one labelled panel, plus the reliability plot",
        description="Edit a built-in picture with a weight-free reference model and write panel.png (input, map, "
        "Differential Diffusion, plain img2img, strength fan), composite.png (kept pixels with and without the composite), "
        "steps.png (the same map at 1, 2, 4 and 20 steps) and trends.png (the reliability benchmark's plot). "
        "With --out docs it remakes the README's pictures.",
    )
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="folder for the PNGs")
    demo.add_argument("--steps", type=whole_number(2), default=30, help="Euler steps of each edit in the panel")
    demo.add_argument("--seed", type=seed_number(), default=1, help="picks the built-in picture and the noise of the panel")
    bench = commands.add_parser("bench", help="measure the method on the weight-free reference model")
    benchmarks = bench.add_subparsers(dest="benchmark", required=True, parser_class=ArgumentParser)
    reliability_parser = benchmarks.add_parser(
        "reliability", help="the paper's reliability score R of every method, and a plot of the trends"
    )
    reliability_parser.add_argument("--images", type=whole_number(1), default=32, help="how many built-in pictures to edit")
    reliability_parser.add_argument("--steps", type=whole_number(1), default=20, help="Euler steps of each edit")
    reliability_parser.add_argument(
        "--schedule",
        choices=("karras", "uniform"),
        default="karras",
        help="the steps' noise levels: karras (its last step barely changes a picture) or uniform (SGM Uniform, "
        "as few-step models are run)",
    )
    reliability_parser.add_argument("--seed", type=seed_number(), default=0, help="picks the pictures, the model's bank and the noise")
    reliability_parser.add_argument("--out", type=Path, default=Path("trends.png"), help="where to write the plot (PNG)")
    fill_parser = benchmarks.add_parser(
        "fill", help="each fill on a flat square the map changes: change, detail and spread over seeds, kept pixels' error"
    )
    fill_parser.add_argument("--images", type=whole_number(1), default=8, help="how many built-in pictures to edit")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            check_output_folder(args.out, "--out")
        elif args.benchmark == "reliability":
            check_output_file(args.out, "--out")
    except InputError as error:
        return fail(PROG, error)

    try:
        if args.command == "demo":
            for path in write_demo(args.out, steps=args.steps, seed=args.seed, progress=True):
                print(f"wrote {path}")
        if args.command == "bench" and args.benchmark == "fill":
            from .lab.fill_bench import fill_benchmark, table

            print(table(fill_benchmark(images=args.images, progress=True)))
        elif args.command == "bench":
            from .lab.bench import reliability

            result = reliability(images=args.images, steps=args.steps, seed=args.seed, schedule_kind=args.schedule, progress=True)
            print(result.table())
            result.plot().save(args.out)
            print(f"wrote {args.out}")
    except OSError as error:  # a full disk, or a folder made read-only meanwhile
        return fail(PROG, InputError("--out", f"cannot write: {error}"))
    return 0


def write_demo(out: Path, steps: int = 30, seed: int = 1, progress: bool = False) -> list[Path]:
    """Write into `out` the demo's panel, its composite and step-count figures and the reliability benchmark's trend plot
    (at the benchmark's defaults, so `--out docs` remakes the README's pictures)."""
    from .lab.bench import reliability
    from .lab.demo import (
        COMPOSITE_NAME,
        PANEL_NAME,
        STEPS_NAME,
        TRENDS_NAME,
        composite_figure,
        make_pictures,
        panel,
        step_count_figure,
        step_count_pictures,
    )
    from .lab.fill_bench import fill_pictures

    out.mkdir(parents=True, exist_ok=True)
    pictures = {**make_pictures(steps, seed, progress), **fill_pictures(seed)}
    results = {
        PANEL_NAME: panel(pictures),
        COMPOSITE_NAME: composite_figure(pictures),
        STEPS_NAME: step_count_figure(step_count_pictures(seed, progress)),
        TRENDS_NAME: reliability(progress=progress).plot(),
    }
    written = []
    for name, picture in results.items():
        picture.save(out / name)
        written.append(out / name)
    return written


if __name__ == "__main__":
    raise SystemExit(main())
