"""The user documentation in docs/ and every docstring example run, and the site builds.

* Every ```python block of every docs/*.md page runs, in order, the blocks of one page
  sharing a namespace like the cells of a notebook, with warnings as errors. Tracebacks
  point at the line of the .md file.
* Every docstring example (``>>>``) of every module of the installed ngdx package runs
  under doctest, with warnings as errors; new modules and subpackages are found by
  walking the package, so they are covered without editing a list here.
* docs/api.md has a mkdocstrings directive (or, for a name with no definition in the
  source, a section) for every name in ngdx.__all__ and for ngdx.plot, and
  ``mkdocs build --strict`` passes when the ``docs`` extra is installed.
* The estimators' docstrings are literals (griffe reads the source) that repeat the
  objective paragraph and the shared parameters word for word.
"""

from __future__ import annotations

import doctest
import functools
import importlib
import importlib.util
import inspect
import os
import pathlib
import pkgutil
import re
import subprocess
import sys
import warnings

import pytest

import ngdx

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", flags=re.S | re.M)


def python_blocks(path):
    """[(line number of the block's first code line, code)] of a page."""
    text = path.read_text()
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(text)]


# ---------------------------------------------------------------------- examples
def test_docs_pages_exist():
    names = {p.name for p in PAGES}
    assert {"index.md", "concepts.md", "user-guide.md", "seeds-errata.md", "api.md",
            "architecture.md"} <= names


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
API = (DOCS / "api.md").read_text()


@pytest.mark.parametrize("name", [*ngdx.__all__, "plot"])
def test_api_md_documents_each_public_name(name):
    # A directive ::: ngdx.NAME, or an anchor #ngdx.NAME for a name documented under its
    # private path (the estimators) or by hand (ConvergenceWarning, which ngdx resolves
    # on first use and so has no definition for mkdocstrings to read).
    directive = re.search(rf"^::: ngdx\.{name}$", API, flags=re.M)
    anchor = f"{{#ngdx.{name}}}" in API
    assert directive or anchor, f"docs/api.md has no section for ngdx.{name}"


def test_api_md_directives_name_objects_that_exist():
    # mkdocs build --strict checks this too, but only where the docs extra is installed.
    for path in re.findall(r"^::: (\S+)$", API, flags=re.M):
        module, _, attr = path.rpartition(".")
        try:
            obj = importlib.import_module(path)
        except ImportError:
            try:
                obj = getattr(importlib.import_module(module), attr)
            except ImportError as exc:  # an optional dependency is missing
                if exc.name and exc.name.split(".")[0] in OPTIONAL_DEPENDENCIES:
                    continue
                raise
        assert obj is not None, path


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None,
                    reason="the docs extra is not installed (pip install -e \".[docs]\")")
def test_site_builds_with_warnings_as_errors(tmp_path):
    # About 3 s; .ci/run builds the site too, so this is for a local run with the extra.
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "site" / "api" / "index.html").exists()


@functools.lru_cache(maxsize=None)
def griffe_package():
    """ngdx as mkdocstrings sees it (mkdocs.yml: the source tree, griffe_sphinx)."""
    griffe = pytest.importorskip("griffe", reason="the docs extra is not installed")
    pytest.importorskip("griffe_sphinx", reason="the docs extra is not installed")
    return griffe.load("ngdx", search_paths=[str(ROOT / "python")],
                       extensions=griffe.load_extensions("griffe_sphinx"))


@pytest.mark.parametrize("path", re.findall(r"^::: (\S+)$", API, flags=re.M))
def test_api_md_objects_have_a_docstring_griffe_can_read(path):
    package = griffe_package()
    obj = package[path.removeprefix("ngdx.")] if path != "ngdx" else package
    assert obj.docstring is not None and obj.docstring.value.strip(), (
        f"{path} has no docstring in the source: the API reference would show none")


# ---------------------------------------------------------------------- estimator docstrings
def docstring_sections(doc):
    """{section title: text} of a numpydoc docstring ("" for the text before the first)."""
    lines = inspect.cleandoc(doc).splitlines()
    sections, title, start = {}, "", 0
    for i in range(1, len(lines)):
        if lines[i] and set(lines[i]) == {"-"} and len(lines[i]) == len(lines[i - 1]):
            sections[title] = "\n".join(lines[start:i - 1])
            title, start = lines[i - 1], i + 1
    sections[title] = "\n".join(lines[start:])
    return sections


def docstring_parameters(section):
    """{name: its entry, name line included} of a numpydoc Parameters section."""
    entries = re.split(r"^(?=\S)", section, flags=re.M)
    return {entry.split(" :")[0].strip(): entry.strip() for entry in entries if entry.strip()}


def test_estimator_docstrings_share_their_common_paragraphs():
    # Each estimator's docstring is a literal (so that griffe, which reads the source, sees
    # it) and repeats the objective paragraph and the parameters other than `model`: the
    # two copies must not drift apart.
    pytest.importorskip("sklearn")
    from ngdx._estimators import NGDClassifier, NGDRegressor

    objective = re.compile(r"``fit`` minimizes\n.*?there for the details\.", flags=re.S)
    texts, parameters = [], []
    for cls in (NGDClassifier, NGDRegressor):
        sections = docstring_sections(cls.__doc__)
        match = objective.search(sections[""])
        assert match, f"{cls.__name__}'s docstring lost the objective paragraph"
        texts.append(match.group(0))
        documented = docstring_parameters(sections["Parameters"])
        assert list(documented) == list(inspect.signature(cls).parameters), cls.__name__
        parameters.append({k: v for k, v in documented.items() if k != "model"})
    assert texts[0] == texts[1]
    assert parameters[0] == parameters[1]

# ---------------------------------------------------------------------- docstring examples
#: Third-party packages that some modules or examples need, all from optional extras: a
#: module that cannot be imported without one, or whose examples need one, is skipped.
OPTIONAL_DEPENDENCIES = {"sklearn", "matplotlib"}
#: Modules whose examples need an optional dependency that the module imports lazily.
EXAMPLES_NEED = {"ngdx.plot": "matplotlib"}


def package_modules():
    """Every module of the installed ngdx package, subpackages included."""
    return sorted(info.name for info in pkgutil.walk_packages(ngdx.__path__, "ngdx."))


def modules_with_known_examples():
    """The modules that define the public objects whose examples exist today."""
    import ngdx.plot

    return {obj.__module__ for obj in (ngdx.fit, ngdx.plot.convergence, ngdx.loss,
                                       ngdx.fisher, ngdx.natural_gradient,
                                       ngdx.set_num_threads)} | {"ngdx._estimators"}


MODULES = package_modules()


def test_the_walk_finds_the_modules_with_examples():
    assert modules_with_known_examples() <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    if name in EXAMPLES_NEED:
        pytest.importorskip(EXAMPLES_NEED[name])
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in OPTIONAL_DEPENDENCIES:
            pytest.skip(f"{name} needs {exc.name}, an optional dependency")
        raise
    output, failed, attempted = [], 0, 0
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for test in doctest.DocTestFinder().find(module, name):
                result = runner.run(test, out=output.append)
                failed, attempted = failed + result.failed, attempted + result.attempted
    finally:
        ngdx.set_num_threads(None)  # an example may change the default
    assert failed == 0, "".join(output)
    if name in modules_with_known_examples():
        assert attempted > 0, f"the examples of {name} no longer run"
