"""How the figures grow with the fleet: the list pages and the sync at several sizes, one table.

    uv run python bench/growth.py --scales 0.25,1,4
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/growth uv run python bench/growth.py

Runs bench/pages.py and bench/sync_scale.py once per scale (scale 1 = 2,000 customer tenants x
5 applications x 10 JIT requests), each in a fresh process and a fresh database (on PostgreSQL,
`<name>_<scale>` is dropped and created), then prints each figure per scale and its growth from
the smallest scale to the largest against the growth of the data. Pages should stay flat; the
sync should grow no faster than the data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

BASE_TENANTS = 2000


def _database_for(scale: float) -> dict[str, str]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return {}
    from chaos import prepare_database

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_{str(scale).replace('.', '_')}"
    scaled = parts._replace(path=f"/{name}").geturl()
    prepare_database(scaled)
    return {"DATABASE_URL": scaled}


def _run(script: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / script), *args, "--json", out.name],
            check=True,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
        )
        figures: dict[str, float] = {}
        for key, value in json.loads(Path(out.name).read_text()).items():
            if isinstance(value, dict):
                figures |= {f"{key} {name}": v for name, v in value.items()}
            else:
                figures[key] = value
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.25,1,4")
    parser.add_argument("--repeat", type=int, default=20, help="renders per page")
    parser.add_argument("--no-sync", action="store_true", help="pages only")
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]

    table: dict[str, dict[float, float]] = {}
    for scale in scales:
        tenants = str(max(1, round(BASE_TENANTS * scale)))
        print(f"scale {scale}: {tenants} tenants...", flush=True)
        pages = _run(
            "pages.py", ["--tenants", tenants, "--repeat", str(args.repeat)], _database_for(scale)
        )
        for key, value in pages.items():
            if key.endswith((" p95", " queries")):
                table.setdefault(key, {})[scale] = value
        if not args.no_sync:
            sync = _run("sync_scale.py", ["--tenants", tenants], _database_for(scale))
            for key, value in sync.items():
                table.setdefault(f"sync {key}", {})[scale] = value

    low, high = scales[0], scales[-1]
    print(f"\n{'figure':56}" + "".join(f"{f'x{s:g}':>10}" for s in scales) + f"{'growth':>9}")
    for key, values in table.items():
        cells = "".join(f"{values.get(s, float('nan')):10.1f}" for s in scales)
        growth = values.get(high, 0) / values[low] if values.get(low) else float("nan")
        print(f"{key:56}{cells}{growth:8.1f}x")
    print(f"(the data grows {high / low:g}x from the first scale to the last)")


if __name__ == "__main__":
    main()
