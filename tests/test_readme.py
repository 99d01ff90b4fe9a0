"""Every Python example in README.md runs (and says what it claims)."""

from __future__ import annotations

import pathlib
import re
import warnings

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile(BLOCKS[index], f"README.md[{index}]", "exec"), {})
    out = capsys.readouterr().out
    claim = re.search(r"print\(res\.converged, res\.n_iter.*# (True \d+) ", BLOCKS[index])
    if claim:  # the comment says what the first line prints
        assert out.startswith(claim.group(1) + " ")
