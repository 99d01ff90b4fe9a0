"""The user documentation in docs/ runs and is up to date.

* Every ```python block of every docs/*.md page runs, in order, the blocks of one page
  sharing a namespace like the cells of a notebook, with warnings as errors. Tracebacks
  point at the line of the .md file.
* docs/api.md is what docs/_make_api.py writes from the current signatures and
  docstrings, and documents every name in ngdx.__all__ with its exact signature.
"""

from __future__ import annotations

import importlib.util
import inspect
import pathlib
import re
import warnings

import pytest

import ngdx

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", flags=re.S | re.M)


def python_blocks(path):
    """[(line number of the block's first code line, code)] of a page."""
    text = path.read_text()
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(text)]


def load_generator():
    spec = importlib.util.spec_from_file_location("_make_api", DOCS / "_make_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------- examples
def test_docs_pages_exist():
    names = {p.name for p in PAGES}
    assert {"index.md", "concepts.md", "user-guide.md", "seeds-errata.md", "api.md"} <= names


@pytest.mark.parametrize("page", [p.name for p in PAGES])
def test_every_python_fence_is_extracted(page):
    # An indented or oddly written fence would silently escape the test below.
    text = (DOCS / page).read_text()
    assert text.count("```python") == len(python_blocks(DOCS / page)), (
        f"{page}: a ```python fence that is not at the start of a line, or unclosed")


@pytest.mark.parametrize("page", [p.name for p in PAGES if python_blocks(p)])
def test_page_examples_run(page, capsys):
    path = DOCS / page
    namespace = {"__name__": f"docs_{path.stem.replace('-', '_')}"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for line, code in python_blocks(path):
                # Pad with newlines so that tracebacks give the line in the .md file.
                exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)
    finally:
        ngdx.set_num_threads(None)  # a page may change the default
    capsys.readouterr()


def test_index_links_every_page():
    index = (DOCS / "index.md").read_text()
    for page in PAGES:
        if page.name != "index.md":
            assert f"({page.name}" in index, f"index.md does not link {page.name}"


def test_relative_links_resolve():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


# ---------------------------------------------------------------------- api.md
def test_api_md_is_up_to_date():
    generator = load_generator()
    try:
        generator.public_objects()
    except ImportError as exc:  # e.g. the estimators without scikit-learn
        pytest.skip(str(exc))
    generated = generator.render()
    current = (DOCS / "api.md").read_text()
    assert current == generated, (
        "docs/api.md is out of date with ngdx's signatures or docstrings: "
        "run `python docs/_make_api.py`")


@pytest.mark.parametrize("name", ngdx.__all__)
def test_api_md_documents_each_name_with_its_signature(name):
    text = (DOCS / "api.md").read_text()
    assert f"### `ngdx.{name}`" in text, f"ngdx.{name} has no section in docs/api.md"
    try:
        obj = getattr(ngdx, name)
    except ImportError as exc:  # an optional dependency is missing
        pytest.skip(str(exc))
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # constants, and exceptions without a signature
        return
    squeeze = lambda s: re.sub(r"\s+", "", s)  # noqa: E731  signatures may be wrapped
    assert squeeze(f"ngdx.{name}{sig}") in squeeze(text), (
        f"docs/api.md lacks the current signature ngdx.{name}{sig}: "
        "run `python docs/_make_api.py`")
