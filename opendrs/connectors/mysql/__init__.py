"""MySQL and MariaDB: full copy (snapshot, structure, chunked data, indexes) and binlog replication."""
