-- The role the registry uses for the audit log: it can log in and nothing more until the
-- audit migration grants it SELECT and INSERT on the log's tables (never UPDATE or DELETE).
-- Change the password for any real deployment.
CREATE ROLE registry_app LOGIN PASSWORD 'registry_app';
