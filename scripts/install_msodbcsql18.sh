#!/usr/bin/env bash
# Microsoft ODBC Driver 18 for SQL Server (pyodbc, dbt-sqlserver) and mssql-tools18 (sqlcmd)
# from Microsoft's apt repository, for the CI jobs that talk to SQL Server.
# Debian or Ubuntu, run as root (CI: sudo). Does nothing when both are installed.
set -euo pipefail
if odbcinst -q -d -n "ODBC Driver 18 for SQL Server" >/dev/null 2>&1 \
  && [ -x /opt/mssql-tools18/bin/sqlcmd ]; then
  echo "msodbcsql18 and mssql-tools18 are installed"
  exit 0
fi
# shellcheck source=/dev/null
. /etc/os-release
case "${ID}" in
  ubuntu | debian) ;;
  *) echo "install_msodbcsql18.sh: unsupported distribution ${ID}" >&2; exit 1 ;;
esac
export DEBIAN_FRONTEND=noninteractive
if ! grep -rqs "packages.microsoft.com/${ID}/${VERSION_ID}/prod" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends curl ca-certificates gnupg >/dev/null
  curl -fsSL https://packages.microsoft.com/keys/microsoft.asc \
    | gpg --dearmor --yes -o /usr/share/keyrings/microsoft-prod.gpg
  curl -fsSL "https://packages.microsoft.com/config/${ID}/${VERSION_ID}/prod.list" \
    -o /etc/apt/sources.list.d/mssql-release.list
fi
apt-get update -qq
ACCEPT_EULA=Y apt-get install -y -qq --no-install-recommends msodbcsql18 mssql-tools18 unixodbc >/dev/null
odbcinst -q -d -n "ODBC Driver 18 for SQL Server"
