"""What an operator or a developer runs by hand, never the DAG: `medallion run` (`pipeline`:
`airflow dags test` and its summary), `medallion airflow` (`local_airflow`), `medallion docs`,
`medallion diff` and `make act` (the workflows under act)."""
