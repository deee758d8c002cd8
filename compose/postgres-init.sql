-- Databases for the stack profile: the Iceberg SQL catalog, the orders source, Prefect.
CREATE DATABASE iceberg;
CREATE DATABASE orders;
CREATE DATABASE prefect;
