"""Write docs/api.md, the API reference, from ngdx's own signatures and docstrings.

Run ``python docs/_make_api.py`` after changing a public name, signature or docstring;
``tests/test_docs.py`` fails while docs/api.md differs from what this script writes.

Every name in ``ngdx.__all__`` gets a section: functions their signature and docstring;
classes their constructor signature, docstring and public methods and properties
(those defined in ngdx; inherited ones are named by their base); modules the names in
their own ``__all__``; constants their value and the ``#:`` comment above their
definition. The numpydoc docstrings are turned into Markdown (``.. math::`` into
``$$ $$``, ``:math:`` into ``$ $``, parameter lists into bullet lists).
"""

from __future__ import annotations

import inspect
import pathlib
import re
import sys
import textwrap
import types

import ngdx

API_MD = pathlib.Path(__file__).resolve().parent / "api.md"
WIDTH = 88  # signatures longer than this are wrapped, one line per group of parameters

#: Section of the reference for the names of each private module; names from a module
#: not listed here go under "More".
GROUPS = [
    ("Fitting", ("ngdx._fit", "ngdx._result")),
    ("scikit-learn estimators", ("ngdx._estimators",)),
    ("Functional API", ("ngdx._functional",)),
    ("Linear algebra", ("ngdx._linalg",)),
    ("Threads", ("ngdx._threads",)),
    ("Constants", ("ngdx._models",)),
]

#: Names whose object comes from another package when it is installed, so that neither
#: their docstring nor their module can be read off the object: what to say instead.
EXTERNAL = {
    "ConvergenceWarning": (
        "The warning `ngdx.fit` gives when it stops before converging (`max_iter` reached, "
        "separable classes without a penalty, a failed line search, a non-finite "
        "objective). It is scikit-learn's `sklearn.exceptions.ConvergenceWarning` when "
        "scikit-learn is installed, so a filter on either name catches it; otherwise "
        "ngdx's own subclass of `UserWarning`."
    ),
}

SECTION_TITLES = {"Parameters", "Returns", "Yields", "Raises", "Warns", "Attributes",
                  "Other Parameters", "Notes", "References", "Examples", "See Also"}
ENTRY_SECTIONS = {"Parameters", "Returns", "Yields", "Raises", "Warns", "Attributes",
                  "Other Parameters", "See Also"}


# ---------------------------------------------------------------------- inline markup
def inline(text: str) -> str:
    """RST inline markup as Markdown: math, roles, literals."""
    text = re.sub(r":math:`([^`]+)`",
                  lambda m: "$" + " ".join(m.group(1).split()) + "$", text)

    def role(m):
        target = m.group(2).lstrip("~")
        bare = target[len("ngdx."):] if target.startswith("ngdx.") else target
        if bare in ngdx.__all__:
            return f"[`ngdx.{bare}`](#{anchor('ngdx.' + bare)})"
        return f"`{target}`"

    text = re.sub(r":(func|class|meth|data|attr|mod|obj|exc):`([^`]+)`", role, text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def anchor(title: str) -> str:
    """GitHub's anchor for a heading ``### `title` ``."""
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


# ---------------------------------------------------------------------- numpydoc
def split_sections(doc: str):
    """[(title or None, lines)] of a cleaned docstring."""
    lines = doc.splitlines()
    sections, title, current = [], None, []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (line.strip() in SECTION_TITLES and nxt.strip() and set(nxt.strip()) == {"-"}
                and not line.startswith(" ")):
            sections.append((title, current))
            title, current = line.strip(), []
            i += 2
            continue
        current.append(line)
        i += 1
    sections.append((title, current))
    return [(t, ls) for t, ls in sections if t is not None or any(s.strip() for s in ls)]


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def render_text(lines) -> list[str]:
    """Free text: paragraphs, bullets, ``.. math::`` blocks and definition lists."""
    out, paragraph = [], []

    def flush():
        # inline markup may span lines (a :math: role broken over two), so convert a
        # run of plain lines at once
        if paragraph:
            out.extend(inline("\n".join(paragraph)).split("\n"))
            paragraph.clear()

    i, after_break = 0, True
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if stripped.startswith(".. math::"):
            flush()
            base = indent_of(line)
            body = [stripped[len(".. math::"):].strip()]
            i += 1
            while i < len(lines) and (not lines[i].strip() or indent_of(lines[i]) > base):
                body.append(lines[i].strip())
                i += 1
            math = " ".join(s for s in body if s)
            prefix = " " * base
            out += ["", f"{prefix}$$", f"{prefix}{math}", f"{prefix}$$", ""]
            after_break = True
            continue
        if (after_break and stripped and indent_of(line) == 0
                and not stripped.startswith(("* ", "- ")) and nxt.strip() and indent_of(nxt) >= 4):
            # a definition list entry: a term, then its indented definition
            flush()
            definition = []
            i += 1
            while i < len(lines) and (not lines[i].strip() or indent_of(lines[i]) >= 4):
                definition.append(lines[i][4:] if lines[i].strip() else "")
                i += 1
            body = render_text(definition)
            first = next((j for j, s in enumerate(body) if s.strip()), 0)
            out.append(f"- {inline(stripped)}: {body[first].strip()}")
            out += ["  " + s if s.strip() else "" for s in body[first + 1:]]
            after_break = True
            continue
        if stripped:
            paragraph.append(line)
        else:
            flush()
            out.append("")
        after_break = not stripped
        i += 1
    flush()
    return out


def render_entries(title: str, lines) -> list[str]:
    """A Parameters-like section: ``name : type`` headers with indented descriptions."""
    out = []
    entries = []
    for line in lines:
        if not line.strip():
            if entries:
                entries[-1][1].append("")
            continue
        if indent_of(line) == 0:
            entries.append((line.strip(), []))
        elif entries:
            entries[-1][1].append(line[4:] if indent_of(line) >= 4 else line.strip())
    for header, desc in entries:
        if title in ("Parameters", "Other Parameters", "Attributes") or " : " in header:
            name, _, kind = header.partition(" : ")
            names = ", ".join(f"`{n.strip()}`" for n in name.split(","))
            head = f"- {names}" + (f" : {inline(kind)}" if kind else "")
        elif title in ("Raises", "Warns"):
            head = f"- `{header}`"
        else:
            head = f"- {inline(header)}"
        out.append(head)
        body = render_text(desc)
        while body and not body[-1].strip():
            body.pop()
        if body:
            out.append("")
            out += ["  " + s if s.strip() else "" for s in body]
            out.append("")
    return out


def render_doc(doc: str | None, heading_level: int) -> list[str]:
    """A numpydoc docstring as Markdown; section titles one level below the object."""
    if not doc:
        return []
    out = []
    for title, lines in split_sections(inspect.cleandoc(doc)):
        while lines and not lines[-1].strip():
            lines = lines[:-1]
        if title is None:
            out += render_text(lines)
        elif title == "Examples":
            out += ["", f"{'#' * heading_level} Examples", "", "```pycon",
                    *textwrap.dedent("\n".join(lines)).strip("\n").splitlines(), "```"]
        else:
            out += ["", f"{'#' * heading_level} {title}", ""]
            out += render_entries(title, lines) if title in ENTRY_SECTIONS else render_text(lines)
        out.append("")
    return out


# ---------------------------------------------------------------------- signatures
def format_signature(prefix: str, sig: inspect.Signature) -> str:
    """``prefix(sig)`` on one line if it fits in WIDTH, else wrapped black-style."""
    one_line = f"{prefix}{sig}"
    if len(one_line) <= WIDTH:
        return one_line
    # Split the rendered parameters at top-level commas (defaults may hold commas).
    text = str(sig)
    ret = ""
    if ") -> " in text:
        text, ret = text.rsplit(") -> ", 1)
        text, ret = text + ")", " -> " + ret
    inner = text[1:-1]
    parts, depth, start = [], 0, 0
    for j, ch in enumerate(inner):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:j].strip())
            start = j + 1
    parts.append(inner[start:].strip())
    lines, current = [], "   "
    for part in parts:
        piece = f" {part}," if part is not parts[-1] else f" {part}"
        if len(current) + len(piece) > WIDTH and current.strip():
            lines.append(current)
            current = "   "
        current += piece
    lines.append(current)
    return f"{prefix}(\n" + "\n".join(lines) + f"\n){ret}"


def signature_of(obj):
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------- objects
def defining_module(name: str, obj) -> str:
    """The ngdx module that defines ``obj`` (for constants: whose source assigns it)."""
    module = getattr(obj, "__module__", None)
    if isinstance(obj, (types.FunctionType, type)) and module and module.startswith("ngdx"):
        return module
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    for mod_name, mod in sorted(sys.modules.items()):
        if mod_name.startswith("ngdx.") and getattr(mod, name, None) is obj:
            try:
                source = inspect.getsource(mod)
            except (OSError, TypeError):
                continue
            if re.search(rf"^{re.escape(name)}\s*[:=]", source, flags=re.M):
                return mod_name
    return "ngdx"


def constant_comment(name: str, module: str) -> str:
    """The ``#:`` comment lines just above ``NAME =`` in the module's source."""
    try:
        source = inspect.getsource(sys.modules[module]).splitlines()
    except (KeyError, OSError, TypeError):
        return ""
    for k, line in enumerate(source):
        if re.match(rf"{re.escape(name)}\s*[:=]", line):
            comment = []
            j = k - 1
            while j >= 0 and source[j].startswith("#:"):
                comment.insert(0, source[j][2:].strip())
                j -= 1
            return " ".join(comment)
    return ""


def render_function(qualname: str, func, level: int) -> list[str]:
    sig = signature_of(func)
    out = [f"{'#' * level} `{qualname}`", ""]
    if sig is not None:
        out += ["```text", format_signature(qualname, sig), "```", ""]
    return out + render_doc(func.__doc__, level + 1)


def render_class(qualname: str, cls, level: int, name: str) -> list[str]:
    out = [f"{'#' * level} `{qualname}`", ""]
    if issubclass(cls, BaseException):
        base = next(b for b in cls.__mro__[1:] if b.__module__ == "builtins")
        out += ["```text", f"class {qualname}({base.__name__})", "```", ""]
    else:
        sig = signature_of(cls)
        if sig is not None:
            out += ["```text", format_signature(f"class {qualname}", sig), "```", ""]
        # public classes of other packages it inherits from (and their methods)
        bases = [b for b in cls.__mro__[1:]
                 if not b.__module__.startswith(("ngdx", "builtins"))
                 and not any(part.startswith("_")
                             for part in (*b.__module__.split("."), b.__name__))]
        if bases:
            out += ["Bases: " + ", ".join(f"`{b.__module__}.{b.__qualname__}`" for b in bases)
                    + " (their public methods are inherited).", ""]
    if name in EXTERNAL:
        return out + [EXTERNAL[name], ""]
    if not cls.__module__.startswith("ngdx"):
        out += [f"Re-exported from `{cls.__module__}.{cls.__qualname__}`.", ""]
    out += render_doc(cls.__doc__, level + 1)
    if issubclass(cls, BaseException):
        return out
    # public methods and properties defined in ngdx's own classes of the MRO
    members = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("ngdx"):
            continue
        for member, value in vars(klass).items():
            if not member.startswith("_") and (inspect.isfunction(value)
                                               or isinstance(value, (property, staticmethod,
                                                                     classmethod))):
                members[member] = value
    short = qualname.rsplit(".", 1)[-1]
    for member in sorted(members):
        value = members[member]
        title = f"{short}.{member}"
        if isinstance(value, property):
            out += [f"{'#' * (level + 1)} `{title}` (property)", ""]
            out += render_doc(value.fget.__doc__, level + 2)
            continue
        func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
        sig = signature_of(func)
        if sig is not None and not isinstance(value, staticmethod):
            params = list(sig.parameters.values())[1:]  # drop self / cls
            sig = sig.replace(parameters=params)
        out += [f"{'#' * (level + 1)} `{title}`", ""]
        if sig is not None:
            out += ["```text", format_signature(title, sig), "```", ""]
        out += render_doc(func.__doc__, level + 2)
    return out


def render_constant(qualname: str, name: str, value, module: str, level: int) -> list[str]:
    out = [f"{'#' * level} `{qualname}`", "", "```text", f"{qualname} = {value!r}", "```", ""]
    comment = constant_comment(name, module)
    return out + ([inline(comment), ""] if comment else [])


def render_name(qualname: str, name: str, obj, level: int) -> list[str]:
    if isinstance(obj, types.ModuleType):
        out = [f"{'#' * level} `{qualname}`", ""] + render_doc(obj.__doc__, level + 1)
        for sub in getattr(obj, "__all__", []):
            out += render_name(f"{qualname}.{sub}", sub, getattr(obj, sub), level + 1)
        return out
    if inspect.isclass(obj):
        return render_class(qualname, obj, level, name)
    if callable(obj):
        return render_function(qualname, obj, level)
    return render_constant(qualname, name, obj, defining_module(name, obj), level)


# ---------------------------------------------------------------------- the page
def grouped_names():
    """[(group title, [names])] over ngdx.__all__, in the order of GROUPS, then "More"."""
    groups = {title: [] for title, _ in GROUPS}
    more = []
    for name in ngdx.__all__:
        module = defining_module(name, getattr(ngdx, name))
        if name in EXTERNAL:
            module = "ngdx._result"
        for title, modules in GROUPS:
            if module in modules:
                groups[title].append(name)
                break
        else:
            more.append(name)
    result = [(title, names) for title, names in groups.items() if names]
    return result + ([("More", more)] if more else [])


def public_objects():
    """{name: object} of ngdx.__all__; ImportError names what an optional name needs."""
    objects = {}
    for name in ngdx.__all__:
        try:
            objects[name] = getattr(ngdx, name)
        except ImportError as exc:
            raise ImportError(f"cannot document ngdx.{name} without its optional "
                              f"dependencies: {exc}") from exc
    return objects


def render() -> str:
    public_objects()  # every name importable, or an ImportError that says what is missing
    out = [
        "# API reference",
        "",
        "<!-- Generated by docs/_make_api.py from ngdx's signatures and docstrings: edit",
        "     those and run `python docs/_make_api.py`; tests/test_docs.py checks that this",
        "     file is up to date. -->",
        "",
        "Every public name of ngdx (`ngdx.__all__`), with its signature "
        "and docstring. The conventions (mean negative log-likelihood, parameters in "
        "`theta.ravel()` order, the Fisher of the *mean* log-likelihood) are explained in "
        "[concepts.md](concepts.md); how to use the functions together, in "
        "[user-guide.md](user-guide.md).",
        "",
    ]
    groups = grouped_names()
    for title, names in groups:
        links = ", ".join(f"[`{n}`](#{anchor('ngdx.' + n)})" for n in names)
        out.append(f"- **{title}**: {links}")
    out += ["", "## Glossary", ""]
    summary, _, rest = inspect.cleandoc(ngdx.__doc__).partition("\n")
    out += [inline(summary.strip()), ""] + render_text(rest.strip("\n").splitlines()) + [""]
    for title, names in groups:
        out += [f"## {title}", ""]
        for name in names:
            out += render_name(f"ngdx.{name}", name, getattr(ngdx, name), 3)
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)  # at most one blank line in a row
    return text.strip("\n") + "\n"


def main():
    API_MD.write_text(render())
    print(f"wrote {API_MD}")


if __name__ == "__main__":
    main()
