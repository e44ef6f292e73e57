"""`medallion bench`: the benchmark harness (`harness`), what it measures (`cases`, with the
results schema), the Markdown it renders (`report`) and the programs it runs in other
interpreters or Airflow homes (`programs/`: real modules, linted like the rest)."""
