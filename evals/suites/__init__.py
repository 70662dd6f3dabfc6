"""Suite data files (YAML suites, JSONL cases); a package so that the files ship with the wheel."""
