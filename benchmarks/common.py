"""What the benchmarks share: progress lines, input errors, percentiles, verdicts, the dev
data and a PostgreSQL database, and the process-tree helpers of the crawl and poll runs."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import tarfile
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEVDATA = Path("/work/devdata")
UNPACKED_MARKER = ".unpacked"

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

# prctl(2): descendants orphaned below us are re-parented to us, not to init
PR_SET_CHILD_SUBREAPER = 36


# --- output ------------------------------------------------------------------------------


def progress(name: str, message: str) -> None:
    """Print one progress line of benchmark `name` on stderr (stdout keeps the figures)."""
    print(f"{name}: {message}", file=sys.stderr, flush=True)


class BenchmarkError(Exception):
    """A benchmark input is missing or unusable."""


def input_error(error: BenchmarkError) -> int:
    """Say on stderr what input is missing or unusable; return the exit status for it (2)."""
    print(f"error: {error}", file=sys.stderr)
    return 2


def verdict(ok: bool) -> str:
    """PASS or FAIL, as every report prints a target."""
    return "PASS" if ok else "FAIL"


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


# --- dev data ----------------------------------------------------------------------------


def shared_data_dir() -> Path:
    """The shared data folder: $AGGREGATOR_SHARED or ../shared/data from the repo root."""
    configured = os.environ.get("AGGREGATOR_SHARED")
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        raise BenchmarkError(
            f"shared data folder {path} not found: set AGGREGATOR_SHARED to the folder "
            "holding extraction-devset.tar.xz, modern-devset.tar.xz and story-devset/"
        )
    return path


def devdata_dir() -> Path:
    """The git-ignored unpack folder: $AGGREGATOR_DEVDATA or /work/devdata."""
    configured = os.environ.get("AGGREGATOR_DEVDATA")
    return Path(configured) if configured else DEFAULT_DEVDATA


def unpack(name: str, shared: Path, devdata: Path) -> Path:
    """Unpack <shared>/<name>.tar.xz into <devdata>/<name> once; return that folder."""
    target = devdata / name
    if (target / UNPACKED_MARKER).is_file():
        return target
    archive = shared / f"{name}.tar.xz"
    if not archive.is_file():
        raise BenchmarkError(f"archive {archive} not found")
    devdata.mkdir(parents=True, exist_ok=True)
    print(f"unpacking {archive} into {devdata}", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=devdata, prefix=f".{name}-") as scratch:
        with tarfile.open(archive, "r:xz") as tar:
            tar.extractall(scratch, filter="data")
        unpacked = Path(scratch) / name
        if not unpacked.is_dir():
            raise BenchmarkError(f"archive {archive} holds no {name}/ folder")
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)
    (target / UNPACKED_MARKER).write_text("unpacked from " + str(archive) + "\n")
    return target


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """Create a fresh PostgreSQL database on 127.0.0.1:5432; drop it afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- processes ---------------------------------------------------------------------------


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux), so their CPU is reaped and counted here."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def proc_table() -> dict[int, tuple[int, int]]:
    """Return pid -> (parent pid, resident KiB) of every process, from /proc."""
    table = {}
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[21]) * page_kib)
    return table


def descendants(pid: int, table: dict[int, tuple[int, int]] | None = None) -> list[int]:
    """Return the pids below pid (children, their children, ...)."""
    table = table if table is not None else proc_table()
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def own_cpu_seconds(pid: int) -> float | None:
    """Return the CPU seconds a live process used itself (not its children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """Return the CPU seconds the whole machine has been busy since it started (/proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def tail(path: str | Path, lines: int) -> str:
    """The last lines of a log file."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])
