"""README.md documents the API the package has: signatures, defaults and exceptions."""

from __future__ import annotations

import inspect
import re
from typing import Any, Callable, List

import pytest

import orchlog
import orchlog.aio
from orchlog import errors

from .conftest import CLIENT_DIR

README = (CLIENT_DIR / "README.md").read_text(encoding="utf-8")


def _render(fn: Callable[..., Any]) -> List[str]:
    """The parameters of ``fn`` as the README writes them: ``name=default``, ``*`` before the
    keyword-only ones, strings in double quotes, the default policy as ``DEFAULT_RETRY``."""
    out: List[str] = []
    star = False
    for p in inspect.signature(fn).parameters.values():
        if p.name == "self":
            continue
        if p.kind is p.KEYWORD_ONLY and not star:
            out.append("*")
            star = True
        if p.default is p.empty:
            out.append(p.name)
        elif p.default is orchlog.DEFAULT_RETRY:
            out.append(f"{p.name}=DEFAULT_RETRY")
        elif isinstance(p.default, str):
            out.append(f'{p.name}="{p.default}"')
        else:
            out.append(f"{p.name}={p.default!r}")
    return out


def _documented(pattern: str) -> List[str]:
    match = re.search(pattern, README, re.DOTALL)
    assert match, f"README.md has no {pattern!r}"
    return [part.strip() for part in match.group(1).split(",") if part.strip()]


@pytest.mark.parametrize(
    ("pattern", "cls"),
    [
        (r"`orchlog\.Client\((.*?)\)`", orchlog.Client),
        (r"`orchlog\.aio\.Client\((.*?)\)`", orchlog.aio.Client),
    ],
)
def test_constructor_signatures(pattern: str, cls: type) -> None:
    assert _documented(pattern) == _render(cls.__init__)  # type: ignore[misc]


def test_method_table_signatures() -> None:
    rows = re.findall(r"^\| `(\w+)\((.*?)\)`", README, re.MULTILINE)
    assert {name for name, _ in rows} == {
        "append_log",
        "append_logs",
        "get_log",
        "health",
        "stream_children",
        "get_tree",
    }
    for name, params in rows:
        documented = [part.strip() for part in params.split(",") if part.strip()]
        assert documented == _render(getattr(orchlog.Client, name)), name
        assert documented == _render(getattr(orchlog.aio.Client, name)), f"aio {name}"


def test_log_entry_signature() -> None:
    assert _documented(r"`LogEntry\((.*?)\)`") == _render(orchlog.LogEntry)


def test_every_exception_is_in_the_table() -> None:
    table = README[README.index("| exception | code |") :]
    table = table[: table.index("\n\n")]
    for name in errors.__all__:
        value = getattr(errors, name)
        if not (isinstance(value, type) and issubclass(value, errors.OrchLogError)):
            continue
        if value is errors.OrchLogError:
            assert "`orchlog.OrchLogError`" in README
            continue
        row = next((line for line in table.splitlines() if f"`{name}`" in line), None)
        assert row is not None, f"{name} is not in the exception table"
        codes = [cell.strip() for cell in row.split("|")[2].split(",")]
        assert str(int(value.default_code)) in codes, name


def test_auth_token_is_documented_as_supported() -> None:
    supported = README[README.index("## Supported") :]
    supported = supported[: supported.index("\n## ")]
    assert "`auth_token`" in supported
    assert "Not supported: TLS" in supported and "checks neither" not in supported
