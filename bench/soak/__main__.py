"""`python -m bench.soak [--minutes 30] [--rate 1700] [--out var/soak/...]`: exit 0 when every check
passes."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from bench.soak import district
from bench.soak.report import write
from bench.soak.run import soak


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=1700.0, help="readings per second")
    parser.add_argument("--buildings", type=int, default=district.BUILDINGS)
    parser.add_argument("--spaces", type=int, default=district.SPACES, help="parking spaces per building")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path("var/soak") / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    outcome = soak(out.resolve(), args.minutes * 60, args.rate, args.buildings, args.spaces)
    ok = write(outcome, out)
    print(f"output: {out}", flush=True)
    sys.exit(0 if ok else 1)


main()
