"""wangge on a Dask cluster: the communities of a city, or the jobs of a batch manifest, run as
Dask tasks on a ``distributed.Client`` (a ``LocalCluster`` on one machine, or a scheduler with
workers on many). The Rust work releases the GIL, so the threads of one worker run in parallel
too. Dask schedules; wangge never runs a scheduler of its own.

- :func:`partition_many`: the jobs of a manifest (CSV, TOML or a folder, as ``wangge batch``
  reads them) or a list of job dicts, one task per job, each writing its own output folder;
  a job finished before with the same options is skipped.
- :func:`partition_communities`: the buildings of a city (a GeoDataFrame, or a
  dask-geopandas GeoDataFrame) divided community by community, one task per community (or per
  partition of the dask frame), merged into one labels Series, one grids GeoDataFrame and one
  table of communities; with ``output``, each task also writes its grids and buildings as
  GeoParquet files ``OUTPUT/grids/CODE.parquet`` and ``OUTPUT/buildings/CODE.parquet``,
  readable as one dataset with ``dask_geopandas.read_parquet(OUTPUT + "/grids")``.

Workers must be able to import wangge (install it in every worker's environment).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import geopandas as gpd
import pandas as pd

from . import GridPartitioner, _wangge

__all__ = ["partition_many", "partition_communities"]

PathLike = Union[str, "os.PathLike[str]"]


def _client(client: Any) -> Any:
    """The client given, else the current one (``distributed.get_client``)."""
    if client is not None:
        return client
    from distributed import get_client

    return get_client()


def _run_job(job_json: str, output: str, force: bool) -> Dict[str, Any]:
    """One batch job on a worker (module level, so that it pickles)."""
    return json.loads(_wangge.batch_run_job(job_json, output, force))


#: Job keys whose values are files (made absolute, so that the manifest's folder does not matter).
_PATH_KEYS = {"buildings", "output", "territory", "barriers", "network", "streets", "compounds", "households-table", "population-zones", "existing", "communities", "config", "workers"}


def _manifest_of(jobs: Sequence[Mapping[str, Any]], folder: str) -> str:
    """Writes job dicts as a CSV manifest in ``folder``; returns its path. Paths are made
    absolute against the current folder."""
    keys: List[str] = []
    for job in jobs:
        for key in job:
            if key not in keys:
                keys.append(key)
    path = os.path.join(folder, "jobs.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(keys)
        for job in jobs:
            row = []
            for key in keys:
                value = job.get(key)
                if key.lstrip("-").replace("_", "-") in _PATH_KEYS and value is not None and not isinstance(value, (bool, int)):
                    many = value if isinstance(value, (list, tuple)) else [value]
                    value = [v if str(v).strip().isdigit() else os.path.abspath(os.fspath(v)) for v in many]
                if value is None:
                    row.append("")
                elif isinstance(value, bool):
                    row.append("true" if value else "false")
                elif isinstance(value, (list, tuple)):
                    row.append(";".join(os.fspath(v) if isinstance(v, os.PathLike) else str(v) for v in value))
                else:
                    row.append(os.path.abspath(os.fspath(value)) if isinstance(value, os.PathLike) else str(value))
            writer.writerow(row)
    return path


def partition_many(
    jobs: Union[PathLike, Sequence[Mapping[str, Any]]],
    output: PathLike,
    client: Any = None,
    *,
    force: bool = False,
) -> pd.DataFrame:
    """Runs partition jobs as Dask tasks, one task per job, each as ``wangge partition`` would.

    ``jobs``: a manifest (CSV, TOML or a folder of building files; see ``wangge batch``) or a
    list of dicts with the same keys (``name``, ``buildings``, ``output`` and options by their
    long name, e.g. ``{"name": "a", "buildings": "a.gpkg", "barriers": ["river.gpkg"],
    "min-households": 250}``; relative paths are relative to the current folder). Each job
    writes ``OUTPUT/NAME`` (or its own ``output``); a job finished before with the same options
    is skipped unless ``force``. Paths must be reachable from every worker (a shared file
    system, or object storage mounted alike). Returns one row per job (name, status, exit code,
    grids, grids in bounds, households, mean walk, violations, seconds, output, error) and
    writes it to ``OUTPUT/batch_summary.csv`` and ``.json``.
    """
    client = _client(client)
    output = os.path.abspath(os.fspath(output))
    os.makedirs(output, exist_ok=True)
    t0 = time.perf_counter()
    if isinstance(jobs, (str, os.PathLike)):
        listed = json.loads(_wangge.batch_jobs(os.fspath(jobs), output))
    else:
        with tempfile.TemporaryDirectory() as folder:
            listed = json.loads(_wangge.batch_jobs(_manifest_of([dict(j) for j in jobs], folder), output))
    futures = client.map(_run_job, [json.dumps(j) for j in listed], output=output, force=force, pure=False, key=[f"wangge-job-{j['name']}-{time.time_ns()}" for j in listed])
    reports = client.gather(futures)
    table = pd.DataFrame(reports)
    worst = 0
    for code in table["exit_code"]:
        rank = lambda c: (0, 0) if c == 0 else ((1, 4) if c == 4 else (2, c))  # noqa: E731
        if rank(int(code)) > rank(worst):
            worst = int(code)
    report = {
        "jobs": reports,
        "counts": table["status"].value_counts().to_dict(),
        "exit_code": worst,
        "seconds": time.perf_counter() - t0,
        "scheduler": getattr(getattr(client, "scheduler", None), "address", None),
    }
    with open(os.path.join(output, "batch_summary.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False, default=str)
    table.to_csv(os.path.join(output, "batch_summary.csv"), index=False)
    table.attrs["exit_code"] = worst
    table.attrs["seconds"] = report["seconds"]
    return table


def _fit_community(
    buildings: gpd.GeoDataFrame,
    territory: Optional[gpd.GeoDataFrame],
    communities: Optional[gpd.GeoDataFrame],
    barriers: Sequence[gpd.GeoDataFrame],
    streets: Sequence[gpd.GeoDataFrame],
    params: Dict[str, Any],
    output: Optional[str],
    name: str,
) -> Tuple[pd.Series, gpd.GeoDataFrame, List[Dict[str, Any]], List[str], float]:
    """One task: divides the buildings of one community (or of one partition holding whole
    communities) on a worker; writes its GeoParquet files when ``output`` is given."""
    t0 = time.perf_counter()
    model = GridPartitioner(**params)
    if territory is not None and communities is not None:
        territory = gpd.overlay(communities[[communities.geometry.name]], territory[[territory.geometry.name]], how="intersection", keep_geom_type=True)
    elif communities is not None:
        territory = communities[[communities.geometry.name]]
    box = buildings.total_bounds
    margin = 2000.0 if buildings.crs is not None and buildings.crs.is_projected else 0.02
    window = (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)
    clip = lambda frames: [f.cx[window[0]:window[2], window[1]:window[3]] for f in frames]  # noqa: E731
    model.fit(
        buildings,
        territory=territory,
        barriers=[b for b in clip(barriers) if len(b)],
        streets=[s for s in clip(streets) if len(s)],
        communities=communities,
    )
    grids = model.grids_
    rows = (model.summary_.get("communities") or {}).get("rows", [])
    if output is not None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        for folder, frame in (("grids", grids), ("buildings", buildings.assign(grid_id=model.labels_.astype(str)))):
            os.makedirs(os.path.join(output, folder), exist_ok=True)
            frame.to_parquet(os.path.join(output, folder, f"{safe}.parquet"))
    return model.labels_, grids, rows, model.summary_.get("warnings", []), time.perf_counter() - t0


def partition_communities(
    buildings: Any,
    client: Any = None,
    *,
    communities: Optional[gpd.GeoDataFrame] = None,
    by: Optional[str] = None,
    territory: Optional[gpd.GeoDataFrame] = None,
    barriers: Union[None, gpd.GeoDataFrame, Sequence[gpd.GeoDataFrame]] = None,
    streets: Union[None, gpd.GeoDataFrame, Sequence[gpd.GeoDataFrame]] = None,
    output: Optional[PathLike] = None,
    **params: Any,
) -> Tuple[pd.Series, gpd.GeoDataFrame, pd.DataFrame]:
    """Divides a city community by community, one Dask task per community.

    ``buildings``: a GeoDataFrame, or a dask-geopandas GeoDataFrame (then each of its partitions
    is one task, shuffled first on ``by`` so that no community is split between two tasks).
    Communities come from ``communities`` (polygons with a ``community_code`` and a
    ``community_name`` column, default ``code`` and ``name``: each task's territory is its
    community polygon, so the grids of all tasks tile the communities) or from the ``by``
    column of the buildings (each task's territory is then derived from its own buildings: give
    polygons for one seamless layer). ``params`` are :class:`wangge.GridPartitioner`
    parameters. Returns the grid id of every building (``CODE-NNN``), the grids of all
    communities and one row per community (the ``summary_["communities"]`` rows of every task,
    with the task's seconds), as a single run nested in communities would.
    """
    client = _client(client)
    barriers = [] if barriers is None else ([barriers] if isinstance(barriers, (gpd.GeoDataFrame, gpd.GeoSeries)) else list(barriers))
    streets = [] if streets is None else ([streets] if isinstance(streets, (gpd.GeoDataFrame, gpd.GeoSeries)) else list(streets))
    if (communities is None) == (by is None):
        raise ValueError("give community polygons (communities=) or a community column (by=), one of them")
    code_col = params.get("community_code") or "code"
    out = None if output is None else os.path.abspath(os.fspath(output))
    shared = client.scatter({"barriers": barriers, "streets": streets, "territory": territory}, broadcast=True)
    tasks: List[Any] = []
    if hasattr(buildings, "to_delayed"):
        if by is None:
            raise ValueError("a dask-geopandas frame needs by= (the community column to shuffle on)")
        from dask import delayed

        parts = buildings.shuffle(on=by).to_delayed()
        fit = delayed(_fit_partition, pure=False)
        tasks = client.compute([fit(part, territory, barriers, streets, {**params, "by": by}, out, f"part{i:05d}") for i, part in enumerate(parts)])
    else:
        if by is not None:
            groups = [(str(code), frame) for code, frame in buildings.groupby(buildings[by].astype("string").fillna("none"), sort=True)]
            polygons: Dict[str, Optional[gpd.GeoDataFrame]] = {code: None for code, _ in groups}
            task_params = {**params, "by": by}
        else:
            points = buildings.geometry.representative_point()
            joined = gpd.sjoin(gpd.GeoDataFrame({"row": range(len(buildings))}, geometry=points.values, crs=buildings.crs), communities[[code_col, communities.geometry.name]], how="left", predicate="within")
            joined = joined[~joined.index.duplicated(keep="first")]
            code_of = joined[code_col].astype("string").fillna("none").to_numpy()
            groups = [(code, buildings[code_of == code]) for code in sorted(set(code_of))]
            polygons = {code: communities[communities[code_col].astype("string") == code] for code, _ in groups}
            task_params = dict(params)
        for code, frame in groups:
            poly = polygons.get(code)
            tasks.append(client.submit(_fit_community, frame, shared["territory"], poly if poly is not None and len(poly) else None, shared["barriers"], shared["streets"], task_params, out, code, pure=False))
    results = client.gather(tasks)
    labels = pd.concat([r[0] for r in results]).reindex(buildings.index) if not hasattr(buildings, "to_delayed") else pd.concat([r[0] for r in results])
    grids = gpd.GeoDataFrame(pd.concat([r[1] for r in results]), crs=results[0][1].crs if results else None)
    table = pd.DataFrame([dict(row, seconds=r[4]) for r in results for row in r[2]])
    table.attrs["warnings"] = [w for r in results for w in r[3]]
    return labels, grids, table


def _fit_partition(part: gpd.GeoDataFrame, territory: Any, barriers: Any, streets: Any, params: Dict[str, Any], output: Optional[str], name: str) -> Tuple[pd.Series, gpd.GeoDataFrame, List[Dict[str, Any]], List[str], float]:
    """One task of a dask-geopandas frame: its partition (whole communities) in one nested run."""
    if len(part) == 0:
        return pd.Series([], dtype="object"), gpd.GeoDataFrame(geometry=[], crs=part.crs), [], [], 0.0
    return _fit_community(part, territory, None, barriers, streets, params, output, name)
