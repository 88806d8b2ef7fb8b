"""wangge (网格, "grid"): divide a territory into balanced, contiguous, compact grids for
community grid governance, and audit or repair an existing grid layer.

The engine is Rust; GeoDataFrames cross to it as WKB arrays. Options have the names and the
defaults of the command line (``wangge partition --help``)::

    import geopandas as gpd, wangge
    buildings = gpd.read_file("buildings.geojson")
    model = wangge.GridPartitioner(min_households=300, max_households=500, seed=0).fit(buildings)
    model.labels_      # grid id of each building (pandas Series on the input index)
    model.grids_       # GeoDataFrame of grid polygons with their figures, in the input CRS
    model.summary_     # the same content as summary.json
    problems = wangge.check(model.grids_, buildings=buildings)
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import html
import inspect
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import geopandas as gpd
import pandas as pd
import shapely

from . import _wangge
from ._wangge import (  # every Rust error variant is an exception class (see ERRORS)
    BadOptionValueError,
    ConfigError,
    ConfigFileError,
    CrsError,
    InfeasibleError,
    InternalError,
    InvalidFeatureError,
    InvalidInputError,
    InvalidLayerError,
    IOFailure,
    LockedGridEmptyError,
    LockedGridInPiecesError,
    LockedGridUnknownError,
    MissingArgumentError,
    OptionNeedsError,
    OptionOnlyWithError,
    OptionOutOfRangeError,
    OptionsExclusiveError,
    OptionsInconsistentError,
    OutputNotEmptyError,
    ParseError,
    SolverError,
    ThreadsError,
    TriangulationError,
    WanggeError,
)

__version__: str = _wangge.__version__
#: Every exception class of wangge, most general first.
ERRORS = (
    WanggeError, InvalidInputError, ParseError, InvalidFeatureError, InvalidLayerError, CrsError, ConfigError,
    OptionOutOfRangeError, OptionsInconsistentError, OptionNeedsError, OptionOnlyWithError, OptionsExclusiveError,
    BadOptionValueError, MissingArgumentError, ConfigFileError, LockedGridUnknownError, LockedGridEmptyError,
    LockedGridInPiecesError, OutputNotEmptyError, InfeasibleError, IOFailure, ThreadsError, SolverError,
    TriangulationError, InternalError,
)
__all__ = ["GridPartitioner", "WanggeWarning", "check", "repair", "batch", "ERRORS", "__version__"] + [e.__name__ for e in ERRORS]


class WanggeWarning(UserWarning):
    """A remark of a run that did not stop it (ignored features, unclaimed land, unavoidable misses, ...)."""


def _warn_all(messages: Sequence[str]) -> None:
    for message in messages:
        warnings.warn(message, WanggeWarning, stacklevel=3)


#: Colours of a grid's load relative to the household bounds.
LOAD_COLOURS = {"below": "#4c78a8", "in band": "#a1d99b", "above": "#e45756"}


def _load_class(households: "pd.Series", lo: float, hi: float) -> "pd.Series":
    """``below``, ``in band`` or ``above`` the bounds, per grid."""
    return pd.Series(
        ["below" if h < lo - 1e-9 else "above" if h > hi + 1e-9 else "in band" for h in households],
        index=households.index,
        name="load",
    )

_PARTITION_DEFAULTS, _AUDIT_DEFAULTS = (json.loads(t) for t in _wangge.defaults())

Frame = Union[gpd.GeoDataFrame, gpd.GeoSeries]


def _crs_text(crs: Any) -> Optional[str]:
    """The CRS as text the engine understands (``EPSG:n`` when it has a code, else WKT)."""
    if crs is None:
        return None
    code = crs.to_epsg()
    return f"EPSG:{code}" if code is not None else crs.to_wkt()


def _as_frame(data: Frame, what: str) -> gpd.GeoDataFrame:
    if isinstance(data, gpd.GeoSeries):
        return gpd.GeoDataFrame(geometry=data)
    if not isinstance(data, gpd.GeoDataFrame):
        raise InvalidInputError(f"{what}: expected a GeoDataFrame or GeoSeries, got {type(data).__name__}")
    return data


def _layer(data: Frame, name: str, columns: Sequence[str] = (), with_ids: bool = True) -> tuple:
    """A layer for the engine: (name, WKB list, CRS, columns, rows as JSON, index as JSON)."""
    gdf = _as_frame(data, name)
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise InvalidInputError(f"{name}: no column {', '.join(map(repr, missing))} (columns: {', '.join(map(str, gdf.columns))})")
    wkb = shapely.to_wkb(gdf.geometry.values, output_dimension=2)
    rows = gdf[list(columns)].to_json(orient="values") if columns else "[]"
    ids = pd.Series(gdf.index).to_json(orient="values") if with_ids else None
    return (name, list(wkb), _crs_text(gdf.crs), list(columns), rows, ids)


def _table(data: pd.DataFrame, name: str, columns: Sequence[str]) -> tuple:
    """An attribute table for the engine (no geometry); the index names rows in messages."""
    if not isinstance(data, pd.DataFrame):
        raise InvalidInputError(f"{name}: expected a DataFrame or a path, got {type(data).__name__}")
    present = [c for c in dict.fromkeys(columns) if c in data.columns]
    frame = pd.DataFrame(data[present]) if present else pd.DataFrame(index=data.index)
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name, errors="ignore"))
    rows = frame.to_json(orient="values") if present else json.dumps([[] for _ in range(len(frame))])
    ids = pd.Series(data.index).to_json(orient="values")
    return (name, [None] * len(frame), None, present, rows, ids)


def _printer() -> Callable[[str, int, int], None]:
    """A progress callback: a tqdm bar when tqdm is installed, else one updated line."""
    try:
        from tqdm.auto import tqdm  # type: ignore

        bar = tqdm(total=0, desc="wangge", leave=False)
        state = {"stage": None}

        def update(stage: str, done: int, total: int) -> None:
            if stage != state["stage"]:
                state["stage"] = stage
                bar.set_description(f"wangge: {stage}")
                bar.reset(total=total or None)
            if total and bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()

        return update
    except ImportError:

        def show(stage: str, done: int, total: int) -> None:
            counts = f" {done}/{total}" if total else ""
            sys.stderr.write(f"\rwangge: {stage}{counts}    ")
            sys.stderr.flush()

        return show


_D = _PARTITION_DEFAULTS
#: Old keyword names of GridPartitioner, still accepted with a DeprecationWarning.
_RENAMED = {"max_walk": "max_walk_m", "time_limit": "time_limit_s"}


class GridPartitioner:
    """Divides buildings into grids within household bounds, connected, compact, whose polygons
    tile the territory.

    Every parameter is a field of the configuration, with the name and the default it has in
    summary.json's ``config`` (and, spelt with dashes, on the command line; see ``wangge
    partition --help`` and the README): a recorded configuration is passed back with
    ``GridPartitioner(**summary["config"])``. The main ones:

    Parameters
    ----------
    min_households, max_households : bounds of a grid (300, 500).
    target_households : households per grid aimed at (default: middle of the bounds).
    grids : fixed number of grids (default: chosen from the bounds).
    households, population, id, floors, units, crs : columns of the buildings and their CRS.
    fix_geometry : repair invalid footprints (crossing rings, a hole outside its shell) by the
        odd-even rule with a warning, instead of raising InvalidFeatureError (False).
    seed : every random choice; the same seed gives the same grids (0).
    detour_factor : straight line × this estimates a walk without a network (1.3).
    objective_weight : ``"households"``, ``"buildings"`` or a column name.
    max_walk_m : every building within this walk (m) of its grid's centre (hard).
    contiguity : grids connected (True); False is the capacitated p-median problem.
    network_filter : e.g. ``"kind=path,minor_road"``; network_radius_m : 1500.
    exact, polish, lp_bound, lower_bound : exact MILP, MILP polishing, LP bound, the bound.
    effort : 0 (fastest) to 1 (default 1 up to 20,000 buildings).
    boundary_weight : cost per metre of grid boundary off the streets, in household-metres of walk
        (default 100 with streets or compounds, 25 without: then every metre counts).
    time_limit_s, mip_gap, solver_threads : HiGHS settings (60 s, 1e-4, 1).
    workers, worker_capacity : a number of identical workers and the households each serves
        (``fit(workers=...)`` also takes a file or a DataFrame).
    join_on, zone_population, zone_households, persons_per_household : households and
        population from a table or zones (given to ``fit``).
    existing_column, existing_id, stability, locked : re-division from an existing division.
    micro_min, micro_max : divide every grid into connected micro-grids of these bounds.
    code_prefix : grid codes = prefix + 3-digit grid number (micro-grids add 2 digits).
    by : a community column of the buildings: each community is divided on its own, grid ids
        ``CODE-001``, ... (or pass community polygons to ``fit(communities=...)``, with their
        ``community_code`` and ``community_name`` columns, default ``code`` and ``name``).
    progress : show progress (tqdm when installed).
    strict : raise :class:`InfeasibleError` when some grid misses a bound.

    Attributes (after ``fit``)
    --------------------------
    labels_ : pandas Series of grid ids on the buildings' index (integers; text when the
        existing division's ids are text).
    grids_ : GeoDataFrame of grids (``grid_id`` index and column, households, population,
        buildings, area_m2, mean_walk_m, max_walk_m, center_id, violations, worker_id), in the
        buildings' CRS.
    summary_ : dict, the content of summary.json.
    micro_labels_ : Series of micro-grid ids (``GRID-SEQ``), with micro bounds; else None.
    micro_grids_ : GeoDataFrame of micro-grids (``micro_grid_id``, ``grid_id``, ``seq``,
        ``micro_code``, households, population, buildings, area_m2, violations); else None.
    households_, population_ : Series of the counts each building was given (from its columns,
        a households table or zone totals).
    violations_ : DataFrame of violations (grid_id, kind, message, households, buildings).
    """

    def __init__(
        self,
        min_households: float = _D["min_households"],
        max_households: float = _D["max_households"],
        target_households: Optional[float] = _D["target_households"],
        grids: Optional[int] = _D["grids"],
        *,
        households: str = _D["households"],
        population: Optional[str] = _D["population"],
        id: Optional[str] = _D["id"],
        crs: Optional[str] = _D["crs"],
        floors: Optional[str] = _D["floors"],
        units: Optional[str] = _D["units"],
        fix_geometry: bool = _D["fix_geometry"],
        max_walk_m: Optional[float] = _D["max_walk_m"],
        contiguity: bool = _D["contiguity"],
        workers: Optional[int] = _D["workers"],
        worker_capacity: Optional[float] = _D["worker_capacity"],
        detour_factor: float = _D["detour_factor"],
        objective_weight: str = _D["objective_weight"],
        network_filter: Optional[str] = _D["network_filter"],
        network_radius_m: float = _D["network_radius_m"],
        network_max_access_m: float = _D["network_max_access_m"],
        max_edge_m: float = _D["max_edge_m"],
        territory_buffer_m: float = _D["territory_buffer_m"],
        streets_filter: Optional[str] = _D["streets_filter"],
        include_water: bool = _D["include_water"],
        simplify_m: float = _D["simplify_m"],
        seed: int = _D["seed"],
        improve_passes: int = _D["improve_passes"],
        effort: Optional[float] = _D["effort"],
        boundary_weight: Optional[float] = _D["boundary_weight"],
        exact: bool = _D["exact"],
        polish: bool = _D["polish"],
        lp_bound: bool = _D["lp_bound"],
        lower_bound: bool = _D["lower_bound"],
        time_limit_s: float = _D["time_limit_s"],
        mip_gap: float = _D["mip_gap"],
        solver_threads: int = _D["solver_threads"],
        join_on: Optional[str] = _D["join_on"],
        zone_population: Optional[str] = _D["zone_population"],
        zone_households: Optional[str] = _D["zone_households"],
        persons_per_household: Optional[float] = _D["persons_per_household"],
        existing_column: Optional[str] = _D["existing_column"],
        existing_id: Optional[str] = _D["existing_id"],
        stability: float = _D["stability"],
        locked: Sequence[Union[int, str]] = (),
        micro_min: Optional[float] = _D["micro_min"],
        micro_max: Optional[float] = _D["micro_max"],
        code_prefix: Optional[str] = _D["code_prefix"],
        by: Optional[str] = _D["by"],
        community_code: Optional[str] = _D["community_code"],
        community_name: Optional[str] = _D["community_name"],
        progress: bool = False,
        strict: bool = False,
        **renamed: Any,
    ) -> None:
        params = dict(locals())
        for name in ("self", "renamed", "__class__"):
            params.pop(name, None)
        for old, value in renamed.items():
            if old == "no_contiguity":
                warnings.warn("no_contiguity is now contiguity=False", DeprecationWarning, stacklevel=2)
                params["contiguity"] = not value
            elif old in _RENAMED:
                warnings.warn(f"{old} is now {_RENAMED[old]}", DeprecationWarning, stacklevel=2)
                params[_RENAMED[old]] = value
            else:
                raise TypeError(f"GridPartitioner() got an unexpected keyword argument {old!r}")
        for name, value in params.items():
            setattr(self, name, value)

    def _config(self, overrides: Dict[str, Any]) -> Dict[str, Any]:
        """The configuration (summary.json's ``config``) of this model, with ``overrides``."""
        config = {name: getattr(self, name) for name in _PARTITION_DEFAULTS}
        unknown = set(overrides) - set(config)
        if unknown:
            raise TypeError(f"fit() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
        config.update(overrides)
        config["locked"] = [x if isinstance(x, str) else int(x) for x in config["locked"]]
        return config

    def fit(
        self,
        buildings: gpd.GeoDataFrame,
        barriers: Union[None, Frame, Sequence[Frame]] = None,
        territory: Optional[Frame] = None,
        network: Optional[gpd.GeoDataFrame] = None,
        workers: Union[None, int, str, os.PathLike, pd.DataFrame] = None,
        households_table: Union[None, str, os.PathLike, pd.DataFrame] = None,
        population_zones: Union[None, str, os.PathLike, gpd.GeoDataFrame] = None,
        existing: Union[None, str, os.PathLike, gpd.GeoDataFrame] = None,
        streets: Union[None, Frame, Sequence[Frame]] = None,
        compounds: Union[None, Frame, Sequence[Frame]] = None,
        communities: Union[None, str, os.PathLike, gpd.GeoDataFrame] = None,
        **options: Any,
    ) -> "GridPartitioner":
        """Partitions ``buildings`` (polygons or points with a household column) and returns self.

        ``streets`` (lines, one frame or several): grid boundaries follow them where the bounds
        allow and the blocks they enclose are split only when they must be (``streets_filter``
        like ``network_filter``, ``boundary_weight``); water (polygon barriers) is left out of the
        grids unless ``include_water``. ``compounds`` (polygons: residential compounds, 小区):
        their outlines are preferred boundaries like streets, a compound is split only when the
        bounds need it, and ``summary_["territory"]["compounds"]`` counts the compounds split.

        ``options``: configuration fields for this fit only (the constructor's parameters, e.g.
        ``households="hh"``, ``join_on="code"``, ``units="units"``).

        ``workers``: a number (with ``worker_capacity``), a CSV/GeoJSON path, or a DataFrame with
        columns ``id``, ``capacity`` and optionally ``kind``, ``x``, ``y`` (buildings' CRS).

        ``households_table`` (a DataFrame or a CSV path) joined on ``join_on`` (``COLUMN`` or
        ``BUILDINGS_COLUMN=TABLE_COLUMN``) gives the households; ``population_zones`` (a
        GeoDataFrame or a path) with ``zone_population`` (and ``zone_households`` or
        ``persons_per_household``) gives population (and households) shared by floor area
        (footprint area × ``floors``). The reports are in ``summary_["households_table"]`` and
        ``summary_["population_zones"]``; the counts used are ``households_`` and ``population_``.

        A building above the maximum (the micro maximum with micro-grids) is split into one part
        per unit (``units``: a column of unit counts, 单元), else into bands of ``floors``; its
        label is the grid holding most of its households and ``summary_["split_buildings"]``
        lists its parts and their grids. One that cannot be split is its own grid, declared in
        ``violations_`` with the reason.

        Re-division: ``existing`` grid polygons (a GeoDataFrame or a path; ids from
        ``existing_id``, else ``grid_id``, else the index) or ``existing_column`` (each building's
        current grid id) keep grid ids and move few households (``stability``, ``locked``); what
        changed is in ``summary_["redivision"]``.

        Communities (社区): ``communities`` (polygons with a ``community_code`` and a
        ``community_name`` column, default ``code`` and ``name``; a GeoDataFrame or a path) or the
        ``by`` column of the buildings: each community is divided on its own, no grid crosses a
        community boundary, grid ids are ``CODE-001``, ... and ``summary_["communities"]`` has one
        row per community.
        """
        config = self._config(options)
        households, population, id = config["households"], config["population"], config["id"]
        join_on, floors, units = config["join_on"], config["floors"], config["units"]
        existing_column, existing_id = config["existing_column"], config["existing_id"]
        zone_population, zone_households = config["zone_population"], config["zone_households"]
        persons_per_household = config["persons_per_household"]
        buildings = _as_frame(buildings, "buildings")
        if population is None and "population" in buildings.columns:
            population = config["population"] = "population"
        external_households = households_table is not None or (population_zones is not None and (zone_households is not None or persons_per_household is not None))
        columns: List[str] = [] if external_households and households not in buildings.columns else [households]
        join_buildings = None if join_on is None else join_on.split("=")[0].strip()
        for extra in (population, id, None if config["objective_weight"] in ("households", "buildings") else config["objective_weight"], join_buildings, floors, units):
            if extra is not None and extra not in columns:
                columns.append(extra)
        if existing_column is not None and existing_column not in columns:
            columns.append(existing_column)
        if config["by"] is not None and config["by"] not in columns:
            columns.append(config["by"])
        communities_arg = None
        if communities is not None:
            community_frame = gpd.read_file(communities) if isinstance(communities, (str, os.PathLike)) else _as_frame(communities, "communities")
            wanted = [config["community_code"] or "code", config["community_name"] or "name"]
            communities_arg = _layer(community_frame, "communities", [c for c in wanted if c in community_frame.columns], with_ids=False)
        existing_arg = None
        if existing is not None:
            grid_frame = gpd.read_file(existing) if isinstance(existing, (str, os.PathLike)) else _as_frame(existing, "existing")
            id_col = existing_id or "grid_id"
            has_id = id_col in grid_frame.columns
            # Without an id column the grids are numbered by row from 1, as on the CLI.
            existing_arg = _layer(grid_frame, "existing", [id_col] if has_id else [], with_ids=False)
        table_columns = [join_on.split("=")[-1].strip() if join_on else "", households, population or "population"]
        table_arg = table_path = zones_arg = zones_path = None
        if isinstance(households_table, (str, os.PathLike)):
            table_path = os.fspath(households_table)
        elif households_table is not None:
            table_arg = _table(households_table, "households_table", table_columns)
        if isinstance(population_zones, (str, os.PathLike)):
            zones_path = os.fspath(population_zones)
        elif population_zones is not None:
            zone_columns = [c for c in (zone_population, zone_households) if c is not None and c in population_zones.columns]
            zones_arg = _layer(population_zones, "population_zones", zone_columns)
        workers_path: Optional[str] = None
        tmp: Optional[str] = None
        if isinstance(workers, bool):
            raise ConfigError("workers must be a number, a path or a DataFrame")
        if isinstance(workers, int):
            config["workers"] = workers
        elif isinstance(workers, (str, os.PathLike)):
            workers_path = os.fspath(workers)
        elif isinstance(workers, pd.DataFrame):
            fd, tmp = tempfile.mkstemp(suffix=".csv")
            os.close(fd)
            workers.to_csv(tmp, index=False)
            workers_path = tmp
        elif workers is not None:
            raise ConfigError(f"workers must be a number, a path or a DataFrame, not {type(workers).__name__}")
        barrier_list = [] if barriers is None else ([barriers] if isinstance(barriers, (gpd.GeoDataFrame, gpd.GeoSeries)) else list(barriers))
        street_list = [] if streets is None else ([streets] if isinstance(streets, (gpd.GeoDataFrame, gpd.GeoSeries)) else list(streets))
        compound_list = [] if compounds is None else ([compounds] if isinstance(compounds, (gpd.GeoDataFrame, gpd.GeoSeries)) else list(compounds))
        street_cols: List[str] = []
        if config["streets_filter"]:
            street_cols = [config["streets_filter"].replace("!=", "=").split("=")[0].strip()]
        net_cols: List[str] = []
        if network is not None and config["network_filter"]:
            col = config["network_filter"].replace("!=", "=").split("=")[0].strip()
            net_cols = [col]
        try:
            labels, polygons, props, summary, building_households, building_population, micro = _wangge.partition(
                _layer(buildings, "buildings", columns),
                json.dumps(config),
                territory=None if territory is None else _layer(territory, "territory", with_ids=False),
                barriers=[_layer(b, f"barriers[{i}]", with_ids=False) for i, b in enumerate(barrier_list)],
                network=None if network is None else _layer(network, "network", net_cols, with_ids=False),
                workers_path=workers_path,
                households_table=table_arg,
                population_zones=zones_arg,
                households_table_path=table_path,
                population_zones_path=zones_path,
                existing=existing_arg,
                progress=_printer() if self.progress else None,
                streets=[_layer(x, f"streets[{i}]", street_cols, with_ids=False) for i, x in enumerate(street_list)],
                compounds=[_layer(x, f"compounds[{i}]", with_ids=False) for i, x in enumerate(compound_list)],
                communities=communities_arg,
            )
        finally:
            if tmp is not None:
                os.unlink(tmp)
        self.labels_ = pd.Series(labels, index=buildings.index, name="grid_id")
        self.households_ = pd.Series(building_households, index=buildings.index, name="households")
        self.population_ = pd.Series(building_population, index=buildings.index, name="population", dtype="float64")
        table = pd.DataFrame(json.loads(props))
        self.grids_ = gpd.GeoDataFrame(table, geometry=shapely.from_wkb(polygons), crs=buildings.crs)
        self.grids_.index = pd.Index(self.grids_["grid_id"].to_numpy(), name=None)
        self.summary_ = json.loads(summary)
        self.micro_labels_: Optional[pd.Series] = None
        self.micro_grids_: Optional[gpd.GeoDataFrame] = None
        if micro is not None:
            micro_ids, micro_polygons, micro_props = micro
            self.micro_labels_ = pd.Series(micro_ids, index=buildings.index, name="micro_grid_id")
            self.micro_grids_ = gpd.GeoDataFrame(pd.DataFrame(json.loads(micro_props)), geometry=shapely.from_wkb(micro_polygons), crs=buildings.crs)
            self.micro_grids_.index = pd.Index(self.micro_grids_["micro_grid_id"].to_numpy(), name=None)
        self.violations_ = pd.DataFrame(self.summary_.get("violations", []), columns=["grid_id", "kind", "message", "households", "buildings"])
        _warn_all(self.summary_.get("warnings", []))
        if self.summary_.get("status") == "infeasible" and len(self.violations_):
            _warn_all([f"{len(self.violations_)} grid(s) miss a bound: {self.summary_.get('message', '')} (see violations_)"])
        if self.strict and len(self.violations_):
            raise InfeasibleError(self.summary_.get("message", "some grid misses a bound"))
        return self

    def fit_predict(self, buildings: gpd.GeoDataFrame, **kwargs: Any) -> pd.Series:
        """``fit(buildings, **kwargs).labels_``."""
        return self.fit(buildings, **kwargs).labels_

    @classmethod
    def _param_names(cls) -> List[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "renamed")]

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """The parameters of this model, by name (scikit-learn's convention)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "GridPartitioner":
        """Sets parameters by name (scikit-learn's convention); returns self."""
        valid = set(self._param_names())
        unknown = sorted(set(params) - valid)
        if unknown:
            raise ValueError(f"invalid parameter(s) {', '.join(unknown)} for GridPartitioner; valid ones: {', '.join(sorted(valid))}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name)
            same = value == default or (isinstance(value, (list, tuple)) and list(value) == list(default or ()))
            if not same:
                changed.append(f"{name}={value!r}")
        return f"GridPartitioner({', '.join(changed)})"

    def _check_fitted(self) -> None:
        if not hasattr(self, "grids_"):
            raise AttributeError("this GridPartitioner is not fitted yet: call fit() first")

    def grid_load(self) -> pd.Series:
        """Each grid's load relative to the household bounds: ``below``, ``in band`` or ``above``."""
        self._check_fitted()
        lo, hi = self.summary_["households"]["bounds"]
        return _load_class(self.grids_["households"], lo, hi)

    def plot(self, ax: Any = None, buildings: Optional[gpd.GeoDataFrame] = None, figsize: Tuple[float, float] = (9, 9), labels: bool = False) -> Any:
        """Draws the grids coloured by load relative to the bounds (below, in band, above; not by
        raw counts, so that one tower does not wash out every other grid), their outlines, the
        buildings when given, and a legend; returns the matplotlib axes."""
        self._check_fitted()
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        if ax is None:
            _, ax = plt.subplots(figsize=figsize)
        load = self.grid_load()
        colours = load.map(LOAD_COLOURS)
        self.grids_.plot(ax=ax, color=colours.to_numpy(), edgecolor="#333333", linewidth=0.6)
        if buildings is not None:
            buildings.to_crs(self.grids_.crs).plot(ax=ax, color="#555555", linewidth=0)
        if labels:
            for gid, pt in zip(self.grids_["grid_id"], self.grids_.geometry.representative_point()):
                ax.annotate(str(gid), (pt.x, pt.y), ha="center", va="center", fontsize=6)
        lo, hi = self.summary_["households"]["bounds"]
        counts = load.value_counts()
        handles = [Patch(facecolor=c, edgecolor="#333333", label=f"{k} ({counts.get(k, 0)})") for k, c in LOAD_COLOURS.items()]
        ax.legend(handles=handles, title=f"households vs {lo:g}–{hi:g}", loc="best", fontsize=8)
        ax.set_title(f"{len(self.grids_)} grids, mean walk {self.summary_['objective']['mean_walk_m']:.1f} m")
        ax.set_axis_off()
        return ax

    def explore(self, **kwargs: Any) -> Any:
        """An interactive map of the grids (folium, through ``GeoDataFrame.explore``) coloured by
        load relative to the bounds, with a tooltip per grid (id, code, households, population,
        walks, worker, violations)."""
        self._check_fitted()
        frame = self.grids_.copy()
        frame["load"] = self.grid_load()
        shown = [c for c in ["grid_id", "grid_code", "households", "population", "buildings", "mean_walk_m", "max_walk_m", "worker_id", "violations", "load"] if c in frame.columns]
        frame = frame[shown + ["geometry"]]
        for c in frame.columns:
            if c != "geometry" and frame[c].dtype == object:
                frame[c] = frame[c].astype(str)
        options = dict(column="load", categorical=True, categories=list(LOAD_COLOURS), cmap=list(LOAD_COLOURS.values()), tooltip=shown, style_kwds={"weight": 1, "color": "#333333"})
        options.update(kwargs)
        return frame.explore(**options)

    def _repr_html_(self) -> str:
        if not hasattr(self, "summary_"):
            return f"<pre>{html.escape(repr(self))}</pre>"
        s = self.summary_
        hh = s["households"]
        lo, hi = hh["bounds"]
        load = self.grid_load().value_counts()
        rows = [
            ("status", s.get("status", "")),
            ("grids", f"{s['grids']} ({hh['grids_in_bounds']} within {lo:g}–{hi:g} households)"),
            ("households per grid", f"min {hh['min']:.0f} / mean {hh['mean']:.0f} / max {hh['max']:.0f}" if s["grids"] else "–"),
            ("load", ", ".join(f"{k} {load.get(k, 0)}" for k in LOAD_COLOURS)),
            ("mean walk", f"{s['objective']['mean_walk_m']:.1f} m"),
            ("violations", str(len(s.get("violations", [])))),
            ("warnings", str(len(s.get("warnings", [])))),
            ("message", s.get("message", "")),
        ]
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(str(v))}</td></tr>" for k, v in rows)
        return f"<div><pre>{html.escape(repr(self))}</pre><table>{body}</table></div>"


def _audit_inputs(grids: Frame, territory: Optional[Frame], buildings: Optional[Frame], **options: Any) -> tuple:
    """The layers and the JSON configuration shared by :func:`check` and :func:`repair`."""
    config = dict(_AUDIT_DEFAULTS)
    config.update({key: value for key, value in options.items() if value is not None})
    id, households, building_id = options["id"], config["households"], options["building_id"]
    grids = _as_frame(grids, "grids")
    id_col = id or "grid_id"
    g = _layer(grids, "grids", [id_col] if id_col in grids.columns or id is not None else [])
    t = None if territory is None else _layer(territory, "territory", with_ids=False)
    b = None
    if buildings is not None:
        buildings = _as_frame(buildings, "buildings")
        cols = [households] if households in buildings.columns else []
        if building_id is not None:
            cols.append(building_id)
        b = _layer(buildings, "buildings", cols)
    return g, t, b, json.dumps(config)


def _water_layers(water: Union[None, Frame, Sequence[Frame]]) -> List[Any]:
    """Water frames (polygons: rivers, lakes) as layers for check and repair."""
    frames = [] if water is None else ([water] if isinstance(water, (gpd.GeoDataFrame, gpd.GeoSeries)) else list(water))
    return [_layer(w, f"water[{i}]", with_ids=False) for i, w in enumerate(frames)]


def check(
    grids: Frame,
    territory: Optional[Frame] = None,
    buildings: Optional[Frame] = None,
    *,
    water: Union[None, Frame, Sequence[Frame]] = None,
    min_households: Optional[float] = None,
    max_households: Optional[float] = None,
    tolerance_m2: float = _AUDIT_DEFAULTS["tolerance_m2"],
    edge_gap_width_m: float = _AUDIT_DEFAULTS["edge_gap_width_m"],
    households: str = _AUDIT_DEFAULTS["households"],
    id: Optional[str] = None,
    building_id: Optional[str] = None,
    crs: Optional[str] = None,
) -> gpd.GeoDataFrame:
    """Audits a grid layer; returns one row per problem (``kind``, ``grid_ids``, ``area_m2``,
    ``building_id``, ``message``, geometry in the grids' CRS). The summary (counts, areas,
    ``clean``) is in ``result.attrs["summary"]``. Kinds are those of ``wangge check``."""
    g, t, b, config = _audit_inputs(grids, territory, buildings, min_households=min_households, max_households=max_households, tolerance_m2=tolerance_m2, edge_gap_width_m=edge_gap_width_m, households=households, id=id, building_id=building_id, crs=crs)
    summary, props, geoms = _wangge.check(g, config, territory=t, buildings=b, water=_water_layers(water))
    table = pd.DataFrame(json.loads(props), columns=["kind", "grid_ids", "area_m2", "building_id", "message"])
    out = gpd.GeoDataFrame(table, geometry=shapely.from_wkb(geoms) if len(geoms) else gpd.GeoSeries([]), crs=_as_frame(grids, "grids").crs)
    out.attrs["summary"] = json.loads(summary)
    return out


def repair(
    grids: Frame,
    territory: Optional[Frame] = None,
    buildings: Optional[Frame] = None,
    *,
    water: Union[None, Frame, Sequence[Frame]] = None,
    min_households: Optional[float] = None,
    max_households: Optional[float] = None,
    tolerance_m2: float = _AUDIT_DEFAULTS["tolerance_m2"],
    edge_gap_width_m: float = _AUDIT_DEFAULTS["edge_gap_width_m"],
    households: str = _AUDIT_DEFAULTS["households"],
    id: Optional[str] = None,
    building_id: Optional[str] = None,
    crs: Optional[str] = None,
) -> Tuple[gpd.GeoDataFrame, Dict[str, Any]]:
    """Repairs a grid layer: returns the repaired GeoDataFrame (same index, columns and CRS;
    exact duplicates dropped; untouched rows unchanged) and the report (what moved where).
    What the repair could not resolve (a grid without a polygon, a gap no grid borders, a
    problem a check of the repaired layer still finds) is listed in ``report["unresolved"]``
    and raised as a :class:`WanggeWarning` each; ``report["clean"]`` is then False."""
    frame = _as_frame(grids, "grids")
    g, t, b, config = _audit_inputs(frame, territory, buildings, min_households=min_households, max_households=max_households, tolerance_m2=tolerance_m2, edge_gap_width_m=edge_gap_width_m, households=households, id=id, building_id=building_id, crs=crs)
    changed, removed, geoms, report = _wangge.repair(g, config, territory=t, buildings=b, water=_water_layers(water))
    out = frame.copy()
    new = shapely.from_wkb([w if w is not None else None for w in geoms])
    geometry = out.geometry.values.copy()
    for i, c in enumerate(changed):
        if c and not removed[i]:
            geometry[i] = new[i]
    out = out.set_geometry(gpd.GeoSeries(geometry, index=out.index, crs=frame.crs))
    out = out[[not r for r in removed]]
    report = json.loads(report)
    for u in report["unresolved"]:
        warnings.warn(f"wangge.repair: unresolved: {u}", WanggeWarning, stacklevel=2)
    return out, report


def batch(manifest: Union[str, os.PathLike], output: Union[str, os.PathLike], *, jobs: int = 1, force: bool = False, progress: bool = False) -> Dict[str, Any]:
    """Runs the partition jobs of a manifest, as ``wangge batch MANIFEST -o OUTPUT`` does.

    ``manifest``: a CSV file (a header, then one row per job: ``name``, ``buildings``,
    ``output`` and any ``wangge partition`` option by its long name, e.g. ``territory``,
    ``barriers`` (several separated by ``;``), ``min-households``, ``communities``), a TOML file
    (``[defaults]`` and ``[[jobs]]`` tables with the same keys) or a folder whose building files
    are one job each. Each job writes into ``OUTPUT/NAME``; a job finished before with the same
    options is skipped unless ``force``; ``jobs`` run at the same time. Returns the batch report
    (the content of ``OUTPUT/batch_summary.json``: one entry per job with its status, exit code,
    grids, walks and error, and the worst exit code).
    """
    report = _wangge.batch(os.fspath(manifest), os.fspath(output), int(jobs), bool(force), _printer() if progress else None)
    return json.loads(report)
