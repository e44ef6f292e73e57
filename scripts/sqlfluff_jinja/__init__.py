"""What the dbt models call besides dbt's builtins, rendered as T-SQL for sqlfluff.

sqlfluff's jinja templater (see .sqlfluff) renders the models without dbt and without a
database; `apply_dbt_builtins` covers ref/source/config/var/is_incremental/this, and this
library covers the macro namespaces: `dbt.*` (dbt's cross-database macros), `medallion.*`
(dbt/macros) and `adapter.quote`. Each renders what the sqlserver__ implementation emits, so
the T-SQL parser sees the production SQL. A macro missing here fails the lint with
"has no attribute": add it rather than hide it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import jinja2

MACROS = Path(__file__).resolve().parents[2] / "dbt" / "macros"


def _quarantine_reasons(rules: Sequence[Sequence[str]]) -> str:
    """Mirror of dbt/macros/quarantine_reasons.sql."""
    cases = ",\n".join(f"case when {condition} then '{name}' end" for name, condition in rules)
    return f"cast(concat_ws(';',\n{cases}\n) as nvarchar(4000))"


def _from_macro_file(file: str, name: str, **context: object) -> str:
    """The body of a macro without dispatch, rendered from dbt/macros itself (no mirror to
    keep in step): ``ref()`` renders the model's name, as apply_dbt_builtins does."""
    text = (MACROS / file).read_text(encoding="utf-8")
    match = re.search(
        r"\{%-?\s*macro\s+" + name + r"\(.*?\)\s*-?%\}(.*?)\{%-?\s*endmacro", text, re.S
    )
    if match is None:
        raise RuntimeError(f"macro {name} not found in dbt/macros/{file}")
    env = jinja2.Environment()
    return env.from_string(match.group(1)).render(
        medallion=medallion, dbt=dbt, ref=lambda model: model, this="this", **context
    )


_WATERMARK = (
    "coalesce((select max(watermark) from publish_log), "
    "cast('1900-01-01 00:00:00.000000' as datetime2(6)))"
)


def _in_batch(relation: str, alias: str) -> str:
    """What dbt/macros/gate_scope.sql emits on the batch path for a relation with _batch_at."""
    return f"{alias}._batch_at > {_WATERMARK}"


def _in_batch_keys(relation: str, key: Sequence[str], alias: str) -> str:
    matches = " and ".join(f"batch_keys.{c} = {alias}.{c}" for c in key)
    return (
        f"exists (select 1 from (select {', '.join(key)} from {relation} as batch_row "
        f"where {_in_batch(relation, 'batch_row')}) as batch_keys where {matches})"
    )


def _raise_compiler_error(message: str) -> str:
    raise RuntimeError(message)


dbt = SimpleNamespace(
    type_int=lambda: "int",
    type_bigint=lambda: "bigint",
    type_boolean=lambda: "bit",
    type_float=lambda: "float",
    type_numeric=lambda: "numeric(28, 6)",
    type_string=lambda: "varchar(8000)",
    type_timestamp=lambda: "datetime2(6)",
    current_timestamp=lambda: "sysdatetime()",
    string_literal=lambda value: f"'{value}'",
    cast=lambda field, type: f"cast({field} as {type})",
    safe_cast=lambda field, type: f"try_cast({field} as {type})",
    concat=lambda fields: f"concat({', '.join(fields)})",
    dateadd=lambda datepart, interval, from_date_or_timestamp: (
        f"dateadd({datepart}, {interval}, {from_date_or_timestamp})"
    ),
    datediff=lambda first_date, second_date, datepart: (
        f"datediff({datepart}, {first_date}, {second_date})"
    ),
    date_trunc=lambda datepart, date: f"datetrunc({datepart}, {date})",
)

medallion = SimpleNamespace(
    type_text=lambda: "nvarchar(4000)",
    type_long_text=lambda: "nvarchar(max)",
    utc_now=lambda: "cast(sysutcdatetime() as datetime2(6))",
    quarantine_reasons=_quarantine_reasons,
    lookback_minutes=lambda: 15,
    batch_at=lambda: "cast('2024-01-01 00:00:00.000000' as datetime2(6))",
    counted_order=lambda status="status": _from_macro_file(
        "gold_changes.sql", "counted_order", status=status
    ),
    changed_orders_ctes=lambda: _from_macro_file("gold_changes.sql", "changed_orders_ctes"),
    ledger_state_ctes=lambda: _from_macro_file("gold_changes.sql", "ledger_state_ctes"),
    in_batch=_in_batch,
    in_batch_keys=_in_batch_keys,
)

adapter = SimpleNamespace(quote=lambda identifier: f'"{identifier}"')

exceptions = SimpleNamespace(raise_compiler_error=_raise_compiler_error)
