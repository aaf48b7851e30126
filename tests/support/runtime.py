"""Calling the OCI runtime under test (``estiba-runtime``, or $ESTIBA_RUNTIME) the way
containerd does: one short-lived process per operation, with a ``--root`` of the test's
own.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
from pathlib import Path

from support.paths import RUNTIME_ROOT_PARENT, runtime_binary

DEFAULT_TIMEOUT = 60.0


class RuntimeCallFailed(subprocess.CalledProcessError):
    """The runtime exited non-zero; the message carries its stdout and stderr."""

    def __str__(self) -> str:
        return (
            f"{' '.join(self.cmd)} exited {self.returncode}\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


def run_runtime(
    *args: str | os.PathLike[str],
    root: str | os.PathLike[str],
    input: str | None = None,
    check: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    output_dir: Path | None = None,
    runtime: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``<runtime> --root <root> <args...>`` and return its CompletedProcess (text).

    input goes to its stdin (no stdin otherwise). Output is captured through pipes; for
    calls that leave a container holding the runtime's stdio (``create``, ``run -d``)
    give output_dir instead: stdout and stderr are then appended to output_dir/stdout and
    output_dir/stderr, where the container keeps writing, and the result carries what
    those files held when the runtime exited. check raises RuntimeCallFailed on a non-zero
    exit; the call is killed after timeout seconds (subprocess.TimeoutExpired).
    """
    argv = [runtime or runtime_binary(), "--root", os.fspath(root), *map(os.fspath, args)]
    stdin = subprocess.DEVNULL if input is None else None
    if output_dir is None:
        result = subprocess.run(
            argv, input=input, stdin=stdin, capture_output=True, text=True,
            timeout=timeout, env=env,
        )
    else:
        output_dir.mkdir(parents=True, exist_ok=True)
        out_path, err_path = output_dir / "stdout", output_dir / "stderr"
        with open(out_path, "ab") as out, open(err_path, "ab") as err:
            proc = subprocess.run(
                argv, input=input, stdin=stdin, stdout=out, stderr=err, text=True,
                timeout=timeout, env=env,
            )
        result = subprocess.CompletedProcess(
            argv, proc.returncode,
            out_path.read_text(errors="replace"), err_path.read_text(errors="replace"),
        )
    if check and result.returncode != 0:
        raise RuntimeCallFailed(result.returncode, argv, result.stdout, result.stderr)
    return result


def container_ids(root: Path, runtime: str | None = None) -> set[str]:
    """The containers a runtime root knows: ``list --format json`` and the state
    directories (one per container, as runc keeps them)."""
    ids: set[str] = set()
    with contextlib.suppress(OSError, subprocess.SubprocessError, ValueError):
        listed = run_runtime("list", "--format", "json", root=root, runtime=runtime,
                             check=False, timeout=20)
        if listed.returncode == 0 and listed.stdout.strip():
            ids.update(c["id"] for c in json.loads(listed.stdout) or [])
    with contextlib.suppress(OSError):
        ids.update(e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=False))
    return ids


def delete_all(root: Path, runtime: str | None = None) -> list[str]:
    """``delete --force`` every container of a runtime root; return the failures."""
    failures = []
    for cid in sorted(container_ids(root, runtime)):
        try:
            result = run_runtime("delete", "--force", cid, root=root, runtime=runtime,
                                 check=False, timeout=30)
        except subprocess.TimeoutExpired:
            failures.append(f"delete --force {cid}: timed out")
            continue
        except OSError as err:
            failures.append(f"delete --force {cid}: {err}")
            continue
        if result.returncode != 0:
            failures.append(f"delete --force {cid}: {result.stderr.strip()}")
    return failures


def remove_tree(path: Path) -> None:
    """rm -rf that never crosses into another filesystem: a bind mount left behind under
    path must show as a leak, not lose the files of whatever it points at."""
    subprocess.run(["rm", "-rf", "--one-file-system", "--", os.fspath(path)],
                   check=False, timeout=60)


def new_runtime_root(prefix: str = "") -> Path:
    """A fresh, short runtime --root: /run/estiba-test/<prefix><8 hex>."""
    root = RUNTIME_ROOT_PARENT / f"{prefix}{secrets.token_hex(4)}"
    root.mkdir(parents=True, mode=0o700)
    return root


def discard_runtime_root(root: Path, runtime: str | None = None) -> list[str]:
    """Force-delete the containers of a runtime root, remove it (and its parent once
    empty); return what could not be deleted."""
    failures = delete_all(root, runtime)
    remove_tree(root)
    try:
        root.parent.rmdir()
    except OSError:
        pass  # other roots are still in it
    return failures
