-- Databases for the stack profile: the Iceberg SQL catalog, the orders source, Prefect's
-- state, and the Iceberg REST catalog's own tables.
CREATE DATABASE iceberg;
CREATE DATABASE orders;
CREATE DATABASE prefect;
CREATE DATABASE iceberg_rest;
