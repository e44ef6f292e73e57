"""The package's exception hierarchy: one base class, one subclass per failure kind.

Every failure falls in one of three classes, and the class alone decides whether anything
retries it: the DAG (a retriable error, or ``AirflowFailException``), the CLI (its exit code)
and the workflows' retry helper (``medallion.ci retry`` retries only exit code 75).

- exit 1, :class:`DataQualityError`, never retried: a failing dbt test, a source table or
  column that is gone (:class:`SourceStructureError`).
- exit 2, any other :class:`MedallionError` (and a command-line usage error), never retried:
  a bad setting or input file, a compile error, a relation or schema a model reads that does
  not exist (:class:`DbtProjectError`).
- exit 75, :class:`TransientError`, retried: the warehouse is busy (lock held), the
  connection dropped, dbt crashed running a model (:class:`DbtInvocationError`).

75 is ``EX_TEMPFAIL`` of BSD's sysexits.h: "temporary failure, the user is invited to retry".
"""

from __future__ import annotations

EXIT_DATA = 1
EXIT_ERROR = 2
EXIT_TRANSIENT = 75


class MedallionError(Exception):
    """Base class for errors a user can act on; the message says what, where and what next.

    Not transient unless it is a :class:`TransientError`: retrying a permanent fault only
    delays the alert.
    """


class TransientError(MedallionError):
    """A fault that can heal by itself (a held lock, a dropped connection): worth a retry."""


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


class WarehouseBusyError(TransientError):
    """Another process holds the warehouse; transient, worth a retry."""


class DbtInvocationError(TransientError):
    """dbt could not finish (connection lost, crashed, killed): an infrastructure failure."""


class DbtProjectError(MedallionError):
    """dbt cannot build the project as it stands: a compile or parse error, a missing profile
    setting, or a relation or schema a model reads that does not exist (e.g. the upstream
    layer was never published). Permanent: waiting does not fix the project or the warehouse.
    """


class DataQualityError(MedallionError):
    """dbt ran but tests failed: the data is bad, so retrying cannot help."""


class SourceStructureError(DataQualityError):
    """A source table or column a model reads is gone (dropped, renamed): a schema change.

    A data problem, not a transient one: the loader swaps tables atomically under the pipeline
    lock, so a missing relation never heals by waiting. Fails fast, like a failing test.
    """


def exit_code(exc: BaseException) -> int:
    """The CLI exit code of a failure: 1 data, 75 transient, 2 anything else."""
    if isinstance(exc, DataQualityError):
        return EXIT_DATA
    if isinstance(exc, TransientError):
        return EXIT_TRANSIENT
    return EXIT_ERROR
