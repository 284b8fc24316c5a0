"""docs/jobs.md's "Params per type" says what each processor's params
serializer accepts: the same names, the same choices, the same integer ranges,
and the types without params named as such."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jobs.processors import REGISTRY
from jobs.processors.params import ChoiceParam, IntegerParam

DOC = Path(__file__).resolve().parents[2] / "docs" / "jobs.md"


def params_section() -> str:
    text = DOC.read_text()
    return text[text.index("### Params per type"): text.index("### Inputs")]


def documented_rows(type_name: str) -> dict[str, str]:
    """The table under **`type_name`**: param name -> the rest of its row."""
    section = params_section()
    heading = f"**`{type_name}`**"
    if heading not in section:
        return {}
    after = section[section.index(heading) + len(heading):]
    table = after.split("\n\n**")[0]
    rows = re.findall(r"^\| `(\w+)` \|(.*)$", table, re.M)
    return dict(rows)


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_each_type_documents_exactly_the_params_its_serializer_takes(type_name):
    fields = REGISTRY[type_name].params().fields
    rows = documented_rows(type_name)
    if not fields:
        no_params = re.search(r"^(.*): no params\.$", params_section(), re.M)
        assert no_params and f"`{type_name}`" in no_params.group(1)
        return
    assert set(rows) == set(fields)
    for name, field in fields.items():
        row = rows[name]
        if isinstance(field, ChoiceParam):
            assert all(f"`{choice}`" in row for choice in field.choices), (name, row)
        if isinstance(field, IntegerParam):
            assert f"{field.min_value}–{field.max_value}" in row.replace(",", ""), (name, row)
        if field.required:
            assert "required" in row, (name, row)


def test_the_check_reads_the_tables():
    assert documented_rows("image.transform").keys() == {"width", "height", "fit", "format", "quality"}
