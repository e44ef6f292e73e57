#!/usr/bin/env bash
# Prints fresh random secrets for docker-compose.ci.yml as an env file, e.g.
#   bash scripts/compose_env.sh > .local/compose.env
#   docker compose --env-file .local/compose.env -f docker-compose.ci.yml up --build --wait ...
# Nothing here is stored in the repository; each call makes new values.
set -euo pipefail
rand() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
# SQL Server's SA password policy wants upper, lower, digit and symbol characters.
echo "MSSQL_SA_PASSWORD=Aa1!$(rand)"
echo "AIRFLOW_POSTGRES_PASSWORD=$(rand)"
echo "AIRFLOW_JWT_SECRET=$(rand)"
echo "AIRFLOW_API_SECRET_KEY=$(rand)"
echo "AIRFLOW_FERNET_KEY=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
echo "AIRFLOW_UID=$(id -u)"
