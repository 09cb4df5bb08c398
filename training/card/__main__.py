"""Rewrite model cards from the JSON files in their folders.

python -m training.card models/transformer-zh-en
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.card.render import write_card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training.card",
        description="Rewrite models/<id>/README.md from the JSON files in the folder.",
    )
    parser.add_argument("model_dirs", type=Path, nargs="+", help="models/<id>")
    for model_dir in parser.parse_args(argv).model_dirs:
        print(write_card(model_dir))


if __name__ == "__main__":
    main()
