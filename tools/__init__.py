"""Pure typed tools over the plant knowledge graph and the solvers.

A tool is a typed function with a Google-style docstring; see ``tools.registry``.
"""
