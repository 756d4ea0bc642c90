"""The package as Dataflow workers get it: build its sdist and wheel, install either into a clean
virtualenv that holds no source tree, and run code there. Everything works offline.

    sdist, wheel = build_dists(tmp / "dists")
    python = installed_python(tmp / "venv", sdist)            # or a staged workflow.tar.gz
    run_isolated(python, "-c", "import pipelines; print(pipelines.__file__)", cwd=tmp)

The new virtualenvs are made ``--without-pip``: pip, setuptools and wheel, like the dependencies
(Beam, pyarrow, ...), come from the running interpreter's site-packages, which a ``.pth`` path line
appends to the new ``sys.path`` (after the venv's own site-packages, where the project is
installed). That line points at a folder of symlinks to the running site-packages less this
project's own entries (its ``*.dist-info``, the editable-install finder, any copy of its packages)
and less the ``.pth`` files: a plain path line in a ``.pth`` file adds the folder without processing
the ``.pth`` files inside it, and leaving them out of the folder keeps it that way.

Building from a ``setup.py`` offline with ``--no-build-isolation`` needs ``wheel`` (< 0.46 with the
setuptools 65 of Python 3.11's venv) in the running environment.
"""
from __future__ import annotations

import ast
import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETUP_PY = REPO / "setup.py"
SHARED_SITE_DIR = "running-site-packages"  # inside each venv: symlinks to the running site-packages
# tools the new venvs take from the running environment (the Dataflow stager also runs
# `python setup.py sdist` with the launching environment's setuptools)
BUILD_TOOLS = ("pip", "setuptools", "wheel")


def _setup_call(setup_py: Path = SETUP_PY) -> ast.Call:
    tree = ast.parse(setup_py.read_text(encoding="utf-8"), str(setup_py))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "setup":
            return node
    raise ValueError(f"{setup_py}: no setup(...) call")


def _keyword(call: ast.Call, name: str) -> ast.expr:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    raise ValueError(f"setup(...) has no {name}= argument")


def distribution_name(setup_py: Path = SETUP_PY) -> str:
    """``name=`` of setup.py (read from its source; setup.py is never run here)."""
    return ast.literal_eval(_keyword(_setup_call(setup_py), "name"))


def package_includes(setup_py: Path = SETUP_PY) -> list[str]:
    """The ``include=`` patterns of setup.py's ``packages=find_packages(include=[...])``."""
    packages = _keyword(_setup_call(setup_py), "packages")
    if not (isinstance(packages, ast.Call) and getattr(packages.func, "attr", getattr(packages.func, "id", None))
            == "find_packages"):
        raise ValueError("setup.py's packages= is not a find_packages(include=[...]) call")
    return list(ast.literal_eval(_keyword(packages, "include")))


@functools.lru_cache(maxsize=None)
def project_packages(root: Path = REPO) -> list[str]:
    """Dotted names of every package setup.py ships, found in ``root`` by setuptools.find_packages
    (in a child process: importing setuptools here would replace distutils in the test process)."""
    code = ("import json, sys, setuptools; "
            "print(json.dumps(setuptools.find_packages(where=sys.argv[1], include=json.loads(sys.argv[2]))))")
    out = subprocess.run([sys.executable, "-c", code, str(root), json.dumps(package_includes(root / "setup.py"))],
                         capture_output=True, text=True, check=True).stdout
    return sorted(json.loads(out))


def top_level_packages(root: Path = REPO) -> list[str]:
    return sorted({name.split(".")[0] for name in project_packages(root)})


def package_files(root: Path = REPO) -> set[str]:
    """Every file under the top-level package folders of ``root`` (relative, ``/``-separated), bytecode
    caches left out: what a wheel of the project must hold, whether or not setup.py finds it."""
    files = set()
    for top in top_level_packages(root):
        for path in (root / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(path.relative_to(root).as_posix())
    return files


def isolated_environ(**extra: str) -> dict[str, str]:
    """The environment for installed-package runs: no PYTHON* variables (PYTHONPATH above all), no
    virtualenv, no pip configuration or index (PIP_* and the machine's pip.conf ignored)."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("PYTHON", "PIP_", "__PYVENV")) or k == "VIRTUAL_ENV")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_CACHE_DIR="1", PIP_NO_INPUT="1")
    env.update(extra)
    return env


def run_checked(cmd: list, *, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``cmd`` in ``isolated_environ()`` (plus ``env``); fail with its output when it exits non-zero."""
    proc = subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=isolated_environ(**(env or {})),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {proc.returncode} in {cwd}\n"
                             f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")
    return proc


def run_isolated(python: Path, *args, cwd: Path, env: dict | None = None,
                 timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -I args...`` from ``cwd``: neither the cwd, the script's folder, PYTHONPATH nor the
    user site is on ``sys.path``; only the venv and what its ``.pth`` files add."""
    return run_checked([python, "-I", *args], cwd=cwd, env=env, timeout=timeout)


def _running_site_packages() -> list[Path]:
    paths = [Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")]
    return list(dict.fromkeys(p for p in paths if p.is_dir()))


def _excluded(name: str, dist: str, packages: list[str]) -> bool:
    """An entry of the running site-packages that stays out of the new venvs: .pth files, and
    everything of this project (its dist-info or egg-info, the editable-install finder, packages)."""
    norm, low = dist.replace("-", "_").lower(), name.lower()
    return (low.endswith(".pth") or low == "__pycache__" or low.startswith("__editable__")
            or (low.startswith(f"{norm}-") and low.endswith((".dist-info", ".egg-info")))
            or low == f"{norm}.egg-link" or name in packages or name in {f"{p}.py" for p in packages})


def _share_running_site_packages(venv_dir: Path, python: Path) -> None:
    """Give the venv the running environment's packages (not this project's) through a .pth path line."""
    dist, packages = distribution_name(), top_level_packages()
    shared = venv_dir / SHARED_SITE_DIR
    shared.mkdir()
    for site in _running_site_packages():
        for entry in sorted(site.iterdir()):
            if not _excluded(entry.name, dist, packages) and not (shared / entry.name).exists():
                (shared / entry.name).symlink_to(entry)
    purelib = subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / f"{SHARED_SITE_DIR}.pth").write_text(f"{shared}\n", encoding="utf-8")


def create_venv(venv_dir: Path) -> Path:
    """A new virtualenv (its site-packages empty) that sees the running environment's packages;
    returns its python."""
    venv_dir = Path(venv_dir)
    missing = [m for m in BUILD_TOOLS if not _importable(m)]
    if missing:
        raise RuntimeError(f"building or installing {distribution_name()} offline needs {', '.join(missing)} in "
                           f"the running environment ({sys.prefix}); install it from requirements.txt")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv_dir)], check=True,
                   capture_output=True, env=isolated_environ())
    python = venv_dir / "bin" / "python"
    _share_running_site_packages(venv_dir, python)
    return python


def _importable(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


def _source_files(root: Path = REPO) -> list[str]:
    """The files a fresh clone would hold, plus new files not ignored (``git ls-files``)."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=str(root),
                         capture_output=True, check=True).stdout.decode("utf-8")
    return sorted(f for f in out.split("\0") if f and (root / f).is_file())


def build_dists(out_dir: Path) -> tuple[Path, Path]:
    """Build the sdist (``python setup.py sdist``, as the Dataflow stager does for ``--setup_file``)
    and the wheel (``pip wheel``) into ``out_dir``, offline, from a copy of the source tree (the files
    git sees, so tests/ and bench/ are there to be left out) in a clean venv. Returns (sdist, wheel)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="leadsinstruct-build-") as tmp:
        src = Path(tmp) / "src"
        for rel in _source_files():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
        python = create_venv(Path(tmp) / "venv")
        run_checked([python, "setup.py", "-q", "sdist", "--dist-dir", out_dir], cwd=src)
        run_checked([python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation",
                     "--wheel-dir", out_dir, "."], cwd=src)
    sdists, wheels = sorted(out_dir.glob("*.tar.gz")), sorted(out_dir.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise AssertionError(f"expected one sdist and one wheel in {out_dir}, found {sdists + wheels}")
    return sdists[0], wheels[0]


def installed_python(venv_dir: Path, dist: Path) -> Path:
    """A new virtualenv at ``venv_dir`` with ``dist`` (a wheel, an sdist, or a Dataflow-staged
    ``workflow.tar.gz``) installed into it offline, without dependencies or build isolation;
    returns the venv's python. The venv's console scripts are in ``<venv_dir>/bin``."""
    venv_dir = Path(venv_dir)
    python = create_venv(venv_dir)
    run_checked([python, "-I", "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-build-isolation",
                 "--ignore-installed", "--no-warn-script-location", Path(dist).resolve()], cwd=venv_dir)
    return python
