"""``python -m ngdx`` (or ``ngdx``): the command line.

``python -m ngdx demo`` fits an ill-conditioned regression with every method, prints a
table and writes a convergence plot (``--model mlp``: a small network trained by K-FAC,
the exact Fisher, Adam and gradient descent; ``--model rl``: TRPO, NPG and VPG on
CartPole-v1); ``python -m ngdx info`` says how ngdx was built.
"""

from __future__ import annotations

import argparse
import sys

import ngdx
from ngdx import _core


def info():
    kernels = _core.runtime.gram_kernels()
    print(f"ngdx {ngdx.__version__}: OpenMP {'on' if _core.runtime.has_openmp else 'off'}, "
          f"{ngdx.get_num_threads()} threads by default, Gram kernel {_core.runtime.gram_kernel()} "
          f"(this build and CPU can run: {', '.join(kernels)})")


def int_at_least(low):
    """An argparse type: an integer >= low."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def demo_rl(args):
    """``demo --model rl``; exit code 2, with the extra to install, without gymnasium."""
    from ._demo_rl import MISSING_GYMNASIUM, has_gymnasium, run_rl

    if not has_gymnasium():
        print(f"ngdx demo: {MISSING_GYMNASIUM}", file=sys.stderr)
        return 2
    run_rl(steps=args.steps, seed=args.seed, out=args.out, verbose=args.verbose)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ngdx", description="natural gradient descent")
    commands = parser.add_subparsers(dest="command")
    demo = commands.add_parser("demo", help="compare the optimizers on a synthetic problem")
    demo.add_argument("--model", default="logistic", choices=ngdx.MODELS + ("mlp", "rl"),
                      help="a GLM, 'mlp': a (d, 32, 3) tanh network, or 'rl': TRPO, NPG "
                           "and VPG on CartPole-v1")
    demo.add_argument("--n", type=int_at_least(1), default=None,
                      help="rows (default 20000; 1000 for mlp)")
    demo.add_argument("--d", type=int_at_least(1), default=None,
                      help="features (default 20; 10 for mlp)")
    demo.add_argument("--seed", type=int_at_least(0), default=0, help="data seed (default 0)")
    demo.add_argument("--out", default=".", help="folder for the plot (default: here)")
    demo.add_argument("--max-iter", type=int_at_least(1), default=None,
                      help="per method (default 1000; 100 for mlp)")
    demo.add_argument("--steps", type=int_at_least(1), default=50_000,
                      help="rl: environment steps per method (default 50000)")
    demo.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2),
                      help="1 or 2: per-iteration lines")
    commands.add_parser("info", help="version, OpenMP, threads and Gram kernel")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import run, run_mlp

        info()
        if args.model == "rl":
            return demo_rl(args)
        mlp = args.model == "mlp"
        n = args.n or (1000 if mlp else 20000)
        d = args.d or (10 if mlp else 20)
        max_iter = args.max_iter or (100 if mlp else 1000)
        if mlp:
            run_mlp(n=n, d=d, seed=args.seed, out=args.out, max_iter=max_iter,
                    verbose=args.verbose)
        else:
            run(model=args.model, n=n, d=d, seed=args.seed, out=args.out, max_iter=max_iter,
                verbose=args.verbose)
    elif args.command == "info":
        info()
    else:
        info()
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
