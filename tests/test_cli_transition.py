"""End to end: `gahb transition --quick` writes a readable report whose numbers are all finite."""

import json
import math
import re

from gahb.cli import main


def _numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def test_transition_quick_writes_report(tmp_path):
    out = tmp_path / "rep"
    rc = main(["transition", "--quick", "--jobs", "1", "-q", "-o", str(out)])
    assert rc == 0
    md = (out / "report.md").read_text()
    data = json.loads((out / "report.json").read_text())
    nums = list(_numbers(data))
    assert len(nums) > 50 and all(math.isfinite(x) for x in nums)
    # NaN is written as null: only the ratio rule at N = 1 (no second neighbour) may be undefined
    for column, values in data["table"].items():
        for n, v in zip(data["table"]["n_train"], values):
            assert v is not None or (column.startswith("mem_ratio") and n == 1), (column, n)
    for key in ("summary", "table", "config", "figures"):
        assert key in data
    assert data["table"]["n_train"] == [1, 4, 16]
    for name in data["figures"]:
        assert (out / name).stat().st_size > 1000
        assert f"]({name})" in md  # every figure is embedded in report.md
    assert {"summary.png", "histograms.png", "psnr_curves.png", "samples_N4.png"} <= set(data["figures"])
    assert re.search(r"\| n_train \| mem_cosine_A", md)


def test_transition_rejects_bad_sizes(tmp_path, capsys):
    assert main(["transition", "--sizes", "a,b", "-o", str(tmp_path / "x")]) == 2
    assert "--sizes" in capsys.readouterr().err
    assert main(["transition", "--dataset", "photo-tiles", "-o", str(tmp_path / "y")]) == 2


def test_quick_never_overrides_explicit_options(tmp_path):
    """--quick fills only the options not given: an explicit --image-size or --steps wins, in both commands."""
    from gahb.cli import build_parser, optimality, transition

    parser = build_parser()
    args = parser.parse_args(["transition", "--quick", "--image-size", "10", "--steps", "7", "-o", str(tmp_path / "t")])
    _, est = transition._resolve(args)
    assert est.max_iter == 7 and est.image_shape == (10, 10) and args.width == transition.QUICK["width"]
    args = parser.parse_args(["optimality", "--quick", "--image-size", "12", "--steps", "5", "-o", str(tmp_path / "o")])
    _, _, est = optimality._resolve(args)
    assert est.max_iter == 5 and args.image_size == 12 and args.n_train == optimality.QUICK["n_train"]
