#!/usr/bin/env bash
# Runs once, as the image's superuser, when the PostGIS container creates
# its data directory (docker-entrypoint-initdb.d). It gives geofn a role of
# its own that is not a superuser:
#
# - GEOFN_DB_USER (DB_USER of the geofn replicas) logs in with
#   GEOFN_DB_PASSWORD and owns POSTGRES_DB, so it can create its tables and
#   a schema per handler;
# - it may create roles (CREATEROLE): geofn gives every handler a role of
#   its own that reaches only that handler's schema and the tables its
#   manifest grants;
# - PostGIS is created here, by the superuser, since geofn's role may not.
#
# The superuser (POSTGRES_USER) is for the operator, never for geofn.
set -euo pipefail

: "${GEOFN_DB_USER:?set GEOFN_DB_USER, the role geofn logs in as}"
: "${GEOFN_DB_PASSWORD:?set GEOFN_DB_PASSWORD}"

psql -v ON_ERROR_STOP=1 --no-psqlrc \
     --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
     --set=geofn_user="$GEOFN_DB_USER" --set=geofn_password="$GEOFN_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEROLE NOSUPERUSER NOCREATEDB PASSWORD %L',
              :'geofn_user', :'geofn_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'geofn_user') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', current_database(), :'geofn_user') \gexec
CREATE EXTENSION IF NOT EXISTS postgis;
-- PostgreSQL 15 already keeps PUBLIC out of schema public; say it anyway.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON DATABASE :"DBNAME" FROM PUBLIC;
SQL
