"""The plant knowledge graph in DuckDB: schema, store, queries, importers, demo plant."""
