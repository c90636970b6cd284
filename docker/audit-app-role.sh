#!/bin/sh
# Run once by the postgres image, when the audit database's volume is first initialised.
# The role the registry uses for the audit log: it can log in and nothing more until the
# audit migration grants it SELECT and INSERT on the log's tables (never UPDATE or DELETE).
# Its password comes from .env through AUDIT_DB_APP_PASSWORD, passed to psql as a variable
# so that no character in it can change the statement. Changing it in .env later changes
# nothing here: `ALTER ROLE registry_app PASSWORD '...'` as audit_owner does.
: "${AUDIT_DB_APP_PASSWORD:?AUDIT_DB_APP_PASSWORD is not set}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$AUDIT_DB_APP_PASSWORD" <<'SQL'
CREATE ROLE registry_app LOGIN PASSWORD :'password';
SQL
