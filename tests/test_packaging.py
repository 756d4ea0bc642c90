"""The package as Dataflow workers install it (``--setup_file``): the wheel and the sdist hold exactly
the project's packages; installed into clean virtualenvs with no source tree they import from the
venv and build the sample corpus to the same records as the source tree; every pickled function of
the build and refresh graphs loads in the installed package; no module-level state."""
from __future__ import annotations

import ast
import glob
import importlib
import inspect
import json
import pkgutil
import shutil
import tarfile
import zipfile
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from tests.installed_env import (REPO, build_dists, distribution_name, installed_python, package_files,
                                 run_checked, run_isolated, top_level_packages)
from tests.test_sample_build import EXPECTED_TASKS
from transforms.tasks.common import TASKS

SNAPSHOT_DATE = "2024-01-01"
MIN_PICKLED_DOFNS = 250  # ParDos of the build graph whose DoFn is pickled (298 when this was written)
MIN_PROJECT_CALLABLES = 20  # distinct project functions/lambdas inside Map/FlatMap/Filter/... (25 then)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """(sdist, wheel), built once from a copy of the tree in a clean venv."""
    return build_dists(tmp_path_factory.mktemp("dists"))


@pytest.fixture(scope="module")
def wheel_python(dists, tmp_path_factory):
    return installed_python(tmp_path_factory.mktemp("wheel") / "venv", dists[1])


@pytest.fixture(scope="module")
def sdist_python(dists, tmp_path_factory):
    """The sdist installed the way Dataflow stages it for --setup_file: renamed workflow.tar.gz."""
    staged = tmp_path_factory.mktemp("staging") / "workflow.tar.gz"
    shutil.copy(dists[0], staged)
    return installed_python(tmp_path_factory.mktemp("sdist") / "venv", staged)


@pytest.fixture(scope="module")
def source_build(tmp_path_factory):
    """The sample build run in this process from the source tree."""
    from pipelines.build import run
    out = tmp_path_factory.mktemp("source_build")
    run(["--output", str(out), "--snapshot_date", SNAPSHOT_DATE, "--progress_interval", "0"])
    return out


# --------------------------------------------------------------------------- helpers
def _site_packages(python: Path) -> Path:
    return next((python.parent.parent / "lib").glob("python3*/site-packages"))


def _normalised_records(out: Path) -> dict[str, list[dict]]:
    """Task records per task, sorted by id, with the output folder cut out of their source paths."""
    prefix = f"{out}/"
    records = {}
    for task in TASKS:
        rows = []
        for f in sorted(glob.glob(f"{out}/tasks/task={task}/*.parquet")):
            rows += pq.read_table(f).to_pylist()
        for r in rows:
            r["sources"] = [s.replace(prefix, "") for s in r["sources"]]
        records[task] = sorted(rows, key=lambda r: r["id"])
    return records


def _manifest(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["inputs"] = [i.replace(f"{out}/", "") for i in manifest["inputs"]]
    return manifest


def _assert_same_build(installed_out: Path, source_out: Path) -> None:
    installed, source = _manifest(installed_out), _manifest(source_out)
    assert installed["tasks"] == source["tasks"] == EXPECTED_TASKS
    assert installed["total_records"] == source["total_records"] == sum(EXPECTED_TASKS.values()) == 220
    assert installed == source
    a, b = _normalised_records(installed_out), _normalised_records(source_out)
    for task in TASKS:
        assert [r["id"] for r in a[task]] == [r["id"] for r in b[task]], task
        assert len({r["id"] for r in a[task]}) == EXPECTED_TASKS[task], task
        assert a[task] == b[task], task


IMPORT_PROBE = """
import importlib, importlib.metadata as md, json, sys
tops = sys.argv[1].split(",")
mods = {t: importlib.import_module(t).__file__ for t in tops}
import google.cloud.storage, google.protobuf, google.api_core, google.auth
import apache_beam.io.gcp.gcsio
dist = [str(d._path) for d in md.distributions() if d.metadata["Name"] == sys.argv[2]]
print(json.dumps({"modules": mods, "sys_path": sys.path, "isolated": sys.flags.isolated, "dists": dist,
                  "editable": sorted(m for m in sys.modules if "editable" in m),
                  "meta_path": [type(f).__module__ + "." + type(f).__qualname__ for f in sys.meta_path],
                  "google": [google.cloud.storage.__file__, list(google.__path__)],
                  "scripts": [e.value for e in md.entry_points(group="console_scripts") if e.name == sys.argv[2]]}))
"""


def _assert_imports_from_venv(python: Path, cwd: Path) -> None:
    site = _site_packages(python)
    out = run_isolated(python, "-c", IMPORT_PROBE, ",".join(top_level_packages()), distribution_name(), cwd=cwd)
    probe = json.loads(out.stdout)
    assert probe["isolated"] == 1
    assert probe["modules"] == {t: str(site / t / "__init__.py") for t in top_level_packages()}
    assert not [p for p in probe["sys_path"] if p == str(REPO) or p.startswith(f"{REPO}/") or p in ("", ".")]
    assert probe["dists"] == [str(p) for p in site.glob(f"{distribution_name()}-*.dist-info")]
    assert len(probe["dists"]) == 1
    assert probe["editable"] == []  # the running env's __editable__ finder was not installed
    assert not [m for m in probe["meta_path"] if "editable" in m.lower()]
    assert probe["google"][0].endswith("/google/cloud/storage/__init__.py")  # namespace package without .pth
    assert probe["scripts"] == ["pipelines.cli:main"]
    installed = {p.relative_to(site).as_posix() for t in top_level_packages() for p in (site / t).rglob("*.py")}
    assert installed == {f for f in package_files() if f.endswith(".py")}


# --------------------------------------------------------------------------- contents
def test_wheel_and_sdist_hold_exactly_the_project_packages(dists):
    sdist, wheel = dists
    expected = package_files()
    tops = top_level_packages()
    assert tops == ["fetching", "pipelines", "schemas", "synth", "transforms"]
    assert {"pipelines/build.py", "pipelines/cli.py", "transforms/tasks/common.py", "schemas/records.py",
            "synth/sample.py", "fetching/run.py"} <= expected

    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = f"{distribution_name()}-0.1.0.dist-info/"
        assert {n for n in names if not n.startswith(info)} == expected
        assert z.read(f"{info}top_level.txt").decode().split() == tops
        assert "leadsinstruct = pipelines.cli:main" in z.read(f"{info}entry_points.txt").decode()
        assert "Requires-Dist: apache-beam[gcp]==2.77.0" in z.read(f"{info}METADATA").decode()

    with tarfile.open(sdist) as t:
        root = f"{distribution_name()}-0.1.0/"
        files = {m.name[len(root):] for m in t.getmembers() if m.isfile()}
    in_packages = {f for f in files if f.split("/")[0] in tops}
    assert in_packages == expected
    egg_info = {f for f in files if f.startswith(f"{distribution_name()}.egg-info/")}
    assert {"PKG-INFO", "SOURCES.txt", "entry_points.txt", "requires.txt", "top_level.txt"} <= {
        f.split("/", 1)[1] for f in egg_info}
    others = files - in_packages - egg_info
    assert {"setup.py", "PKG-INFO"} <= others
    assert not [f for f in others if "/" in f]  # nothing from tests/, bench/, deploy/, docs/ ...
    assert not [f for f in files if f.startswith(("tests/", "bench/"))]


# --------------------------------------------------------------------------- installed wheel
def test_installed_wheel_imports_from_the_venv_only(wheel_python, tmp_path):
    _assert_imports_from_venv(wheel_python, tmp_path)
    script = wheel_python.parent / "leadsinstruct"
    assert script.is_file()
    assert script.read_text().splitlines()[0] == f"#!{wheel_python}"


def test_installed_console_script_builds_the_sample_like_the_source_tree(wheel_python, source_build, tmp_path):
    out = tmp_path / "out"
    proc = run_checked([wheel_python.parent / "leadsinstruct", "build", "--output", out,
                        "--snapshot_date", SNAPSHOT_DATE, "--progress_interval", "0"], cwd=tmp_path)
    assert f"{'total':<26}{220:>10}" in proc.stdout
    assert (out / "sample_input").is_dir()
    _assert_same_build(out, source_build)


# --------------------------------------------------------------------------- installed sdist
def test_sdist_installs_as_on_dataflow_workers_and_builds_the_sample(sdist_python, source_build, tmp_path):
    _assert_imports_from_venv(sdist_python, tmp_path)
    out = tmp_path / "out"
    run_isolated(sdist_python, "-m", "pipelines.build", "--output", out, "--snapshot_date", SNAPSHOT_DATE,
                 "--progress_interval", "0", cwd=tmp_path)
    _assert_same_build(out, source_build)


# --------------------------------------------------------------------------- pickling
def load_pickled_payloads(proto_paths: list[str], tops: list[str]) -> dict:
    """Load every pickled payload of the pipeline protos at ``proto_paths`` as an SDK worker does:
    DoFns (with side-input view and window-mapping fns), CombineFns, WindowFns, coders and
    transforms kept pickled. Returns counts per loaded kind and class, the project callables found
    inside wrapper DoFns (Map, FlatMap, Filter ...), urns left unloaded, and the files of the project
    modules that loading imported. Self-contained: it also runs, as source, in installed venvs."""
    import collections
    import sys

    from apache_beam.coders.coders import deserialize_coder
    from apache_beam.internal import pickler
    from apache_beam.portability import common_urns, python_urns
    from apache_beam.portability.api import beam_runner_api_pb2 as pb
    from google.protobuf import wrappers_pb2

    loaded, callables, unloaded = collections.Counter(), collections.Counter(), collections.Counter()

    def name(obj) -> str:  # __name__: a class pickled by value comes back without its __qualname__
        return f"{type(obj).__module__}.{type(obj).__name__}"

    def project_callable(fn, depth=0):
        module = getattr(fn, "__module__", None) or ""
        if module.split(".")[0] in tops and hasattr(fn, "__qualname__"):
            return f"{module}.{fn.__qualname__}"
        for cell in (getattr(fn, "__closure__", None) or ()) if depth < 3 else ():
            try:
                found = project_callable(cell.cell_contents, depth + 1)
            except ValueError:  # an empty cell
                continue
            if found:
                return found
        return None

    def load(kind: str, spec) -> None:
        if spec.urn == python_urns.PICKLED_DOFN_INFO:
            fn = pickler.loads(spec.payload)[0]
            loaded[f"dofn {name(fn)}"] += 1
            user = project_callable(getattr(fn, "_fn", None))
            if user:
                callables[user] += 1
        elif spec.urn in (python_urns.PICKLED_COMBINE_FN, python_urns.PICKLED_WINDOWFN,
                          python_urns.PICKLED_VIEWFN, python_urns.PICKLED_WINDOW_MAPPING_FN,
                          python_urns.PICKLED_TRANSFORM, python_urns.PICKLED_DOFN, python_urns.PICKLED_SOURCE):
            obj = pickler.loads(spec.payload)
            loaded[f"{kind} {name(obj if not isinstance(obj, tuple) else obj[0])}"] += 1
        elif "pickled" in spec.urn:
            unloaded[spec.urn] += 1

    combine_urns = {common_urns.composites.COMBINE_PER_KEY.urn, common_urns.composites.COMBINE_GLOBALLY.urn,
                    common_urns.combine_components.COMBINE_GROUPED_VALUES.urn,
                    common_urns.combine_components.COMBINE_PER_KEY_PRECOMBINE.urn,
                    common_urns.combine_components.COMBINE_PER_KEY_MERGE_ACCUMULATORS.urn,
                    common_urns.combine_components.COMBINE_PER_KEY_EXTRACT_OUTPUTS.urn}
    for path in proto_paths:
        with open(path, "rb") as f:
            proto = pb.Pipeline.FromString(f.read())
        for t in proto.components.transforms.values():
            if t.spec.urn == common_urns.primitives.PAR_DO.urn:
                payload = pb.ParDoPayload.FromString(t.spec.payload)
                load("dofn", payload.do_fn)
                for side in payload.side_inputs.values():
                    load("view_fn", side.view_fn)
                    load("window_mapping_fn", side.window_mapping_fn)
            elif t.spec.urn in combine_urns:
                load("combine_fn", pb.CombinePayload.FromString(t.spec.payload).combine_fn)
            elif t.spec.urn == common_urns.primitives.ASSIGN_WINDOWS.urn:
                load("window_fn", pb.WindowIntoPayload.FromString(t.spec.payload).window_fn)
            else:
                load("transform", t.spec)
        for w in proto.components.windowing_strategies.values():
            load("window_fn", w.window_fn)
        for c in proto.components.coders.values():
            if c.spec.urn == python_urns.PICKLED_CODER:
                coder = deserialize_coder(wrappers_pb2.BytesValue.FromString(c.spec.payload).value)
                loaded[f"coder {name(coder)}"] += 1
    files = sorted({getattr(m, "__file__", None) or "" for n, m in list(sys.modules.items())
                    if n.split(".")[0] in tops})
    return {"loaded": dict(loaded), "callables": dict(callables), "unloaded": dict(unloaded), "files": files}


def _graph_protos(tmp_path: Path) -> list[str]:
    """The build graph, the refresh graph (previous snapshot, input list, FinalizeSnapshot) and the
    KG reasoning graph, constructed unrun and written as pipeline protos (``to_runner_api`` pickles
    every fn)."""
    from pipelines.build import build
    from pipelines.options import BuildOptions
    from transforms.snapshot import FinalizeSnapshot
    (tmp_path / "new_input_files.txt").write_text(f"{tmp_path}/raw/pubmed/a.xml\n")
    variants = {
        "build": [],
        "refresh": ["--input_list", f"{tmp_path}/new_input_files.txt", "--previous_snapshot", f"{tmp_path}/prev"],
    }
    paths = []
    for label, extra in variants.items():
        options = PipelineOptions(["--input_root", f"{tmp_path}/raw", "--output", f"{tmp_path}/{label}",
                                   "--snapshot_date", SNAPSHOT_DATE, "--runner", "FnApiRunner", *extra])
        p = beam.Pipeline(options=options)
        outputs = build(p, options.view_as(BuildOptions))
        if label == "refresh":
            outputs["manifest"] | "FinalizeSnapshot" >> FinalizeSnapshot(
                str(tmp_path), "2024-01-02", SNAPSHOT_DATE, {"as_of": "2024-01-02"}, {"snapshot": "2024-01-02"})
        path = tmp_path / f"{label}.pb"
        path.write_bytes(p.to_runner_api().SerializeToString())
        paths.append(str(path))
    # the second job: KG reasoning, with its model steps wired in
    from pipelines.kg_reasoning import build as build_kg
    from pipelines.options import KgReasoningOptions
    options = PipelineOptions(["--qa", f"{tmp_path}/qa/*.jsonl", "--kg", f"{tmp_path}/kg/kg.csv", "--output",
                               f"{tmp_path}/kg_out", "--snapshot_date", SNAPSHOT_DATE, "--runner", "FnApiRunner",
                               "--llm_endpoint", "http://127.0.0.1:9/v1"])
    p = beam.Pipeline(options=options)
    build_kg(p, options.view_as(KgReasoningOptions))
    path = tmp_path / "kg_reasoning.pb"
    path.write_bytes(p.to_runner_api().SerializeToString())
    paths.append(str(path))
    return paths


def _project_fn_classes() -> set[str]:
    """Every DoFn and CombineFn class defined in the project's packages."""
    for top in top_level_packages():
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, f"{top}."):
            importlib.import_module(info.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    return {f"{c.__module__}.{c.__name__}" for base in (beam.DoFn, beam.CombineFn) for c in subclasses(base)
            if c.__module__.split(".")[0] in top_level_packages()}


def test_every_pickled_fn_of_the_build_and_refresh_graphs_loads_in_the_installed_package(wheel_python, tmp_path):
    tops = top_level_packages()
    protos = _graph_protos(tmp_path)
    here = load_pickled_payloads(protos[:1], tops)
    dofns = sum(n for k, n in here["loaded"].items() if k.startswith("dofn "))
    assert dofns >= MIN_PICKLED_DOFNS, here["loaded"]
    assert len(here["callables"]) >= MIN_PROJECT_CALLABLES, here["callables"]

    both = load_pickled_payloads(protos, tops)
    assert both["unloaded"] == {}
    found = {k.split(" ", 1)[1] for k in both["loaded"] if k.split(" ", 1)[1].split(".")[0] in tops}
    # a DoFn/CombineFn class that no graph here pickles: wire it into a graph above (or drop it)
    assert found == _project_fn_classes()
    assert {"transforms.read._ParseFileFn", "transforms.read._ReadTableFn", "transforms.snapshot._FinalizeFn",
            "transforms.write.TaskStatsFn"} <= found

    # the same payloads load in a fresh process that has only the installed wheel (as a worker has)
    code = (inspect.getsource(load_pickled_payloads)
            + "\nimport json, sys\nprint(json.dumps(load_pickled_payloads(sys.argv[1:-1], sys.argv[-1].split(','))))")
    script = tmp_path / "load_payloads.py"
    script.write_text(code)
    installed = json.loads(run_isolated(wheel_python, script, *protos, ",".join(tops), cwd=tmp_path).stdout)
    assert installed["loaded"] == both["loaded"] and installed["callables"] == both["callables"]
    assert installed["unloaded"] == {}
    site = str(_site_packages(wheel_python))
    assert installed["files"] and all(f.startswith(f"{site}/") for f in installed["files"]), installed["files"]


# --------------------------------------------------------------------------- module-level state
MUTABLE_CALLS = {"dict", "list", "set", "bytearray", "defaultdict", "OrderedDict", "Counter", "deque", "ChainMap",
                 "WeakValueDictionary", "WeakKeyDictionary", "WeakSet", "local", "Queue", "SimpleQueue", "Session"}
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "clear", "remove",
            "discard", "sort", "reverse", "appendleft", "extendleft", "popleft", "rotate", "difference_update",
            "intersection_update", "symmetric_difference_update", "__setitem__", "__delitem__"}
# Module-level state the tree holds today, pinned exactly so that no more appears: (file, finding, name).
# Empty this set to require none at all.
KNOWN_MODULE_STATE = {
    # same-process tally of counters for the local progress display; inc() runs in DoFns on workers too
    ("transforms/metrics.py", "mutated in a function", "_LIVE"),
    # process-wide registry of secrets for log redaction (fetch stage, not in the Beam pipeline)
    ("fetching/http.py", "mutated in a function", "_SECRETS"),
    # the scaled generator's world, set in the parent before forking its worker pool (not in the pipeline)
    ("synth/scale.py", "global", "_WORLD"),
    # one request-rate limiter per model endpoint, shared by the DoFn instances of a worker process
    ("transforms/kg/llm.py", "mutated in a function", "_LIMITERS"),
}


def _is_mutable(value: ast.expr | None) -> bool:
    if isinstance(value, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        return (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) in MUTABLE_CALLS
    return False


def _is_constant_name(name: str) -> bool:
    core = name.strip("_")
    return (name.startswith("__") and name.endswith("__")) or (core != "" and core == core.upper())


def _module_assignments(body: list[ast.stmt]):
    """(name, value, line) of the assignments run at import time (also inside if/try/with blocks)."""
    for node in body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.value, node.lineno
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            yield node.target.id, node.value, node.lineno
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for block in ("body", "orelse", "finalbody"):
                yield from _module_assignments(getattr(node, block, []) or [])
            for handler in getattr(node, "handlers", []):
                yield from _module_assignments(handler.body)


def _local_names(func: ast.AST) -> set[str]:
    args = func.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a}
    names |= {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names


def _mutations(func: ast.AST, containers: set[str]):
    """(name, line) where ``func`` mutates one of the module's containers in place."""
    names = containers - _local_names(func)
    for node in ast.walk(func):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) \
                and isinstance(node.value, ast.Name) and node.value.id in names:
            yield node.value.id, node.lineno
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in names:
            yield node.func.value.id, node.lineno


def module_state(root: Path = REPO) -> list[tuple[str, int, str, str]]:
    """(file, line, finding, name) for each ``global`` statement, each module-level mutable container
    not named as a constant, and each mutation of a module-level container inside a function."""
    found = []
    for rel in sorted(f for f in package_files(root) if f.endswith(".py")):
        tree = ast.parse((root / rel).read_text(encoding="utf-8"), rel)
        containers = set()
        for name, value, line in _module_assignments(tree.body):
            if _is_mutable(value):
                containers.add(name)
                if not _is_constant_name(name):
                    found.append((rel, line, "mutable module-level container", name))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Global):
                    found += [(rel, node.lineno, "global", n) for n in node.names]
            found += [(rel, line, "mutated in a function", n) for n, line in _mutations(func, containers)]
    return sorted(set(found))


def test_module_state_finder_catches_each_kind(tmp_path):
    (tmp_path / "setup.py").write_text((REPO / "setup.py").read_text())
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "__init__.py").write_text("")
    (tmp_path / "pipelines" / "m.py").write_text(
        "import collections\n"
        "cache = {}\n"                                      # 2: lower-case container
        "SEEN = set()\n"                                    # 3: constant-named, mutated below
        "TABLE = {'a': 1}\n"                                # 4: constant, only read
        "counts = collections.Counter()\n"                  # 5: lower-case container (call)
        "__all__ = ['f']\n"
        "def f(x, TABLE=None):\n"
        "    global cache\n"                                # 8
        "    SEEN.add(x)\n"                                 # 9
        "    cache[x] = 1\n"                                # 10
        "    TABLE = {}\n"                                  # a local of the same name
        "    TABLE['b'] = 2\n"
        "    return TABLE\n")
    assert module_state(tmp_path) == [
        ("pipelines/m.py", 2, "mutable module-level container", "cache"),
        ("pipelines/m.py", 5, "mutable module-level container", "counts"),
        ("pipelines/m.py", 8, "global", "cache"),
        ("pipelines/m.py", 9, "mutated in a function", "SEEN"),
        ("pipelines/m.py", 10, "mutated in a function", "cache")]


def test_no_module_level_state_beyond_the_known():
    found = module_state()
    where = "\n".join(f"{f}:{line}: {what} {name}" for f, line, what, name in found)
    assert {(f, what, name) for f, _, what, name in found} == KNOWN_MODULE_STATE, where
