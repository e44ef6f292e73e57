"""The package's exception hierarchy: one base class, one subclass per failure kind."""

from __future__ import annotations


class MedallionError(Exception):
    """Base class for errors a user can act on; the message says what, where and what next."""


class ConfigError(MedallionError):
    """A setting read from the environment is missing or invalid."""


class SourceDataError(MedallionError):
    """Input data is unusable: names the file, line and column and leaves the warehouse unchanged."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = ", ".join(
            part
            for part in (
                f"file {path}" if path else "",
                f"line {line}" if line is not None else "",
                f"column {column}" if column else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class WarehouseBusyError(MedallionError):
    """Another process holds the warehouse; transient, worth a retry."""


class DbtInvocationError(MedallionError):
    """dbt could not run (bad project, connection lost, lock held): an infrastructure failure."""


class DataQualityError(MedallionError):
    """dbt ran but tests failed: the data is bad, so retrying cannot help."""


class SourceStructureError(DataQualityError):
    """A source table or column a model reads is gone (dropped, renamed): a schema change.

    A data problem, not a transient one: the loader swaps tables atomically under the pipeline
    lock, so a missing relation never heals by waiting. Fails fast, like a failing test.
    """
