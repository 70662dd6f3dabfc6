"""Evaluation harness: suites of cases as data, deterministic scorers, runner, reports (see docs/evals.md)."""
