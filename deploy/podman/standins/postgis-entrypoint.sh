#!/usr/bin/env bash
# The start-up contract of the official postgres/postgis images, for the
# stand-in image (only where no registry is reachable):
#
# - POSTGRES_USER (default postgres) is the superuser, with POSTGRES_PASSWORD;
#   POSTGRES_DB (default: the user's name) is created;
# - on first start (no PG_VERSION in PGDATA) the cluster is created, PostGIS
#   is created in POSTGRES_DB (the postgis image's own init step), then
#   /docker-entrypoint-initdb.d/* run in name order against a server that
#   listens on its socket only: executable *.sh are run, others sourced,
#   *.sql fed to psql;
# - then PostgreSQL runs in the foreground, listening on every address,
#   password (SCRAM) authentication for TCP.
set -Eeo pipefail

if [[ "${1:-}" == -* ]]; then
  set -- postgres "$@"
fi
if [[ "${1:-}" != postgres ]]; then
  exec "$@"
fi

if [[ "$(id -u)" == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

export POSTGRES_USER=${POSTGRES_USER:-postgres}
export POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
         --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 $POSTGRES_INITDB_ARGS
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"

  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER")
  if [[ "$POSTGRES_DB" != postgres ]]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  "${psql[@]}" --dbname "$POSTGRES_DB" <<<'CREATE EXTENSION IF NOT EXISTS postgis;'
  export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        if [[ -x "$f" ]]; then
          echo "entrypoint: running $f"
          "$f"
        else
          echo "entrypoint: sourcing $f"
          # shellcheck disable=SC1090
          . "$f"
        fi
        ;;
      *.sql)
        echo "entrypoint: running $f"
        "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f"
        ;;
      *) [[ -e "$f" ]] && echo "entrypoint: ignoring $f" ;;
    esac
  done
  unset PGPASSWORD
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo "entrypoint: PostgreSQL init process complete; ready for start up"
fi

exec "$@" -c listen_addresses='*'
