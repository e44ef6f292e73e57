"""Programs the benchmark runs outside this process: DAG files copied into its own Airflow
homes, and the DAG-parse probe run by a fresh interpreter of either virtualenv."""
