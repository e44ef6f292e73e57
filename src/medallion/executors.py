"""Airflow executors that start every task with dbt imported and the project parsed.

Under a real scheduler each task runs in a process of its own, and before its first SQL
statement a dbt task would import dbt (about 1.7 s) and load the manifest. Airflow 3 forks
each task process from a long-lived executor process (a LocalExecutor worker, a Celery pool
process), so doing both once in that process makes them free for every task forked from it:

* ``AIRFLOW__CORE__EXECUTOR=medallion.executors.LocalExecutor`` preloads in the scheduler
  before it forks its LocalExecutor workers;
* ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=medallion.executors.CELERY_CONFIG`` preloads in
  each Celery worker before it forks its pool.

A task still checks that the preloaded manifest matches the project on its disk
(:func:`medallion.dbt.parsed_manifest` keys it by a fingerprint of the project files and
dbt's environment) and parses again if not, so a deployed project change is never missed.
A preload that fails is logged and costs nothing more: tasks then import and parse as usual.
The KubernetesExecutor starts a pod per task, so it gains nothing here (docs/DEPLOYMENT.md).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from airflow.executors.local_executor import LocalExecutor as _StockLocalExecutor

log = logging.getLogger(__name__)


def preload_dbt() -> None:
    """Import dbt and its adapter and parse the project, in this process, for its forks."""
    from medallion import dbt
    from medallion.config import Settings

    try:
        dbt.preload(Settings.from_env(os.environ))
    except Exception as exc:  # a preload is an optimisation: never the reason a worker fails
        log.warning("dbt preload failed (%s); each task will import and parse dbt itself", exc)


class LocalExecutor(_StockLocalExecutor):
    """Airflow's LocalExecutor, its workers forked after :func:`preload_dbt`."""

    def start(self) -> None:
        preload_dbt()
        super().start()


def _celery_config() -> dict[str, Any]:
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
    from celery.signals import worker_init

    # the worker's main process, before it forks its pool (not the scheduler's side)
    worker_init.connect(lambda **_: preload_dbt(), weak=False)
    return dict(DEFAULT_CELERY_CONFIG)


def __getattr__(name: str) -> Any:
    # built on first use: importing this module for the LocalExecutor needs no Celery
    if name == "CELERY_CONFIG":
        config = _celery_config()
        globals()["CELERY_CONFIG"] = config
        return config
    raise AttributeError(name)
