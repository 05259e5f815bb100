"""Summaries of ``experiments/meva_by_checkpoint.py``'s IPD rows over windows of training: how
often, and how far, the learned rule's self-play cooperates (issue 17 item 1).

    python experiments/meva_checkpoint_summary.py ROWS.txt [...] --window 300 1000 [--window ...]

Per file and window, for gamma 0.9, 0.95 and 0.99: the mean self-play value over the window's
checkpoints, [lowest, highest], and how many are within 0.1 of mutual cooperation
(value > -1.1); then, over all the files' checkpoints, how many are within 0.05 of -1
(value > -1.05) at gamma 0.95 and 0.99, per file and in all.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SUMMARISED_GAMMAS = ("0.9", "0.95", "0.99")
NEAR_COOPERATION, CLOSE_TO_COOPERATION = -1.1, -1.05


def read_rows(path: Path) -> list[tuple[int, dict[str, float]]]:
    """``(iteration, {gamma: value})`` per checkpoint row, the gammas from the header."""
    gammas, rows = [], []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields[:3] == ["trial", "trained", "iteration"]:
            gammas = [field.removeprefix("g=") for field in fields[3:]]
        elif len(fields) == 3 + len(gammas) and fields[2].isdigit():
            rows.append((int(fields[2]), dict(zip(gammas, map(float, fields[3:]), strict=True))))
    missing = [gamma for gamma in SUMMARISED_GAMMAS if gamma not in gammas]
    if missing:
        raise SystemExit(f"{path}: no columns for gamma {missing} (has {gammas})")
    return rows


def window_cells(rows: list[tuple[int, dict[str, float]]], gamma: str) -> str:
    values = [row[gamma] for _, row in rows]
    near = sum(value > NEAR_COOPERATION for value in values)
    mean = sum(values) / len(values)
    return f"{mean:.3f} [{min(values):.3f}, {max(values):.3f}] {near}/{len(values)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="+", type=Path, help="outputs of meva_by_checkpoint.py")
    parser.add_argument(
        "--window", nargs=2, type=int, action="append", required=True, metavar=("FIRST", "LAST")
    )
    args = parser.parse_args()
    print("| file | loops | " + " | ".join(f"gamma {g}" for g in SUMMARISED_GAMMAS) + " |")
    print("|---|---|" + "---|" * len(SUMMARISED_GAMMAS))
    all_rows = {path: read_rows(path) for path in args.rows}
    for path, rows in all_rows.items():
        for first, last in args.window:
            inside = [(it, row) for it, row in rows if first <= it <= last]
            if not inside:
                raise SystemExit(f"{path}: no checkpoint between loops {first} and {last}")
            cells = " | ".join(window_cells(inside, gamma) for gamma in SUMMARISED_GAMMAS)
            print(f"| {path.stem} | {first}-{last} | {cells} |")
    for gamma in SUMMARISED_GAMMAS[1:]:
        counts = [
            sum(row[gamma] > CLOSE_TO_COOPERATION for _, row in rows) for rows in all_rows.values()
        ]
        total = sum(len(rows) for rows in all_rows.values())
        print(f"gamma {gamma}: within 0.05 of -1 in {counts} checkpoints, {sum(counts)} of {total}")


if __name__ == "__main__":
    main()
