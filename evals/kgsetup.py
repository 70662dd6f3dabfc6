"""Build the knowledge graphs a suite runs against, in a temporary directory.

A setup is the seeded demo plant (``knowledge.demo.build_demo``) or a directory of CSV files
imported through the knowledge-graph importers, each with its mapping YAML. Every distinct
setup is built once per run; each eval worker then opens its own copy (DuckDB allows one writer
per file, and mutating tools must not leak between workers).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from evals.cases import Setup, SuiteError
from knowledge.store import KnowledgeStore

__all__ = ["IMPORT_ORDER", "build_kg", "copy_kg", "import_data_dir"]


def build_kg(setup: Setup, path: Path) -> Path:
    """Build the knowledge graph of ``setup`` into a new DuckDB file at ``path``.

    Args:
        setup: The demo seed/scale, or the CSV directory and mappings.
        path: The file to create (must not exist).
    """
    if path.exists():
        raise SuiteError(f"{path} already exists; the eval builds every knowledge graph into a fresh file.")
    with KnowledgeStore(path) as store:
        if setup.data is not None:
            import_data_dir(store, setup.data, setup.mapping)
        else:
            from knowledge.demo import build_demo

            demo = setup.demo_or_default
            build_demo(store, seed=demo.seed, scale=demo.scale)
        store.con.execute("CHECKPOINT")
    return path


def copy_kg(src: Path, dst: Path) -> Path:
    """Copy a built knowledge graph file (and its WAL, if any) for one worker."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    wal = src.with_name(src.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, dst.with_name(dst.name + ".wal"))
    return dst


#: Import order: nodes before the edges and facts that refer to them.
IMPORT_ORDER: tuple[str, ...] = ("assets", "sensors", "failure_modes", "edges", "work_orders", "alerts", "readings")


def _mapping_for(csv: Path, mapping_dir: Path | None) -> Path | None:
    if mapping_dir is None:
        return None
    for suffix in (".yaml", ".yml"):
        cand = mapping_dir / f"{csv.stem}{suffix}"
        if cand.is_file():
            return cand
    return None


def _kind_of(csv: Path, mapping_kind: str | None) -> str:
    if mapping_kind:
        return mapping_kind
    stem = csv.stem.lower()
    for kind in IMPORT_ORDER:
        if stem == kind or stem.startswith(kind + "_") or stem.startswith(kind + "-"):
            return kind
    raise SuiteError(
        f"Cannot tell what {csv.name} holds; name it <kind>.csv or <kind>_<anything>.csv, or set 'kind:' in its "
        f"mapping <mapping dir>/{csv.stem}.yaml (kinds: {', '.join(IMPORT_ORDER)})."
    )


def import_data_dir(store: KnowledgeStore, data: Path, mapping: Path | None) -> list[Any]:
    """Import every CSV file of ``data`` into ``store`` through :func:`knowledge.importers.import_file`.

    Each file's kind comes from its mapping (``<mapping>/<csv stem>.yaml`` with ``kind:``) or its
    name (``assets.csv``, ``readings_line2.csv``...); files are imported nodes first (assets,
    sensors, failure modes, edges, then work orders, alerts, readings). Rejected rows are kept in
    the returned reports; a file that cannot be imported at all stops the setup with the
    importer's message.

    Args:
        store: A writable store.
        data: The directory of CSV files.
        mapping: The directory of mapping YAML files, or None (importers recognise common column names).
    """
    from knowledge.importers import import_file, load_mapping

    if not data.is_dir():
        raise SuiteError(f"--data {data} is not a directory of CSV files.")
    if mapping is not None and not mapping.is_dir():
        raise SuiteError(f"--mapping {mapping} is not a directory of mapping YAML files.")
    files = sorted(data.glob("*.csv"))
    if not files:
        raise SuiteError(f"--data {data} has no .csv files.")
    plan = []
    for csv in files:
        m = load_mapping(_mapping_for(csv, mapping))
        kind = _kind_of(csv, m.kind)
        order = IMPORT_ORDER.index(kind) if kind in IMPORT_ORDER else len(IMPORT_ORDER)
        plan.append((order, csv.name, csv, kind, m))
    plan.sort(key=lambda t: (t[0], t[1]))
    return [import_file(store, csv, kind=kind, mapping=m) for _o, _n, csv, kind, m in plan]  # type: ignore[arg-type]
