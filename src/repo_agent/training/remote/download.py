"""`finetune.remote.serve: download`: fetch a finished Together job's weights and unpack them
into a plain Hugging Face model directory that the `hf` policy loads."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from repo_agent.retries import describe_error
from repo_agent.secrets import scrub
from repo_agent.training.config import RemoteFinetuneConfig
from repo_agent.training.remote.backend import RemoteFinetuneError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MODEL_FILES = ("config.json", "adapter_config.json")


def checkpoint_kind(lora: bool) -> str:
    """What to download: a LoRA job's adapter merged into the base, else the full model."""
    return "merged" if lora else "model_output_path"


def download_model(
    record: dict[str, Any],
    config: RemoteFinetuneConfig,
    archive_dir: Path,
    model_dir: Path,
    console: Console | None = None,
) -> dict[str, Any]:
    """Download the weights of the job in `record` into `archive_dir` (kept there until
    unpacked, so a rerun after a failed unpack does not download again), unpack them into
    `model_dir`; returns what was fetched, for the record."""
    from repo_agent.training.remote.together import TogetherBackend

    if record.get("provider") != "together":
        raise RemoteFinetuneError(
            f"serve: download needs a Together job, not {record.get('provider')!r}: "
            "OpenAI has no weight download (use serve: name)"
        )
    job_id, kind = str(record["job_id"]), checkpoint_kind(config.lora)
    archive = archive_dir / f"{job_id}.{kind}.archive"
    if not archive.is_file():
        api = TogetherBackend(config)
        part = archive.with_name(archive.name + ".part")
        (console or Console(stderr=True)).print(f"together: downloading {kind} weights of {job_id}")
        try:
            api.download(job_id, kind, part)
        except Exception as exc:
            text = scrub(describe_error(exc, config.request_timeout_s), [api.secret])
            raise RemoteFinetuneError(
                f"together: download of job {job_id} ({kind}) failed: {text}; rerun to retry"
            ) from None
        part.replace(archive)
    size = archive.stat().st_size
    unpack_checkpoint(archive, model_dir)
    archive.unlink()  # the unpacked model is the out; the archive would double the disk use
    return {"job_id": job_id, "checkpoint": kind, "archive_bytes": size}


def unpack_checkpoint(archive: Path, model_dir: Path) -> None:
    """Unpack a tar archive (plain, gz, bz2, xz or zstd) into `model_dir`, lifting the folder
    that holds the model's config.json to `model_dir` itself; files already in `model_dir`
    stay unless the archive has a file of the same name."""
    tmp = model_dir.parent / f".{model_dir.name}.unpack"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with archive.open("rb") as fh:
            zstd = fh.read(4) == ZSTD_MAGIC
        if zstd:
            _extract_zstd(archive, tmp)
        else:
            try:
                with tarfile.open(archive, "r:*") as tar:
                    tar.extractall(tmp, filter="data")
            except tarfile.ReadError as exc:
                raise RemoteFinetuneError(f"{archive}: not a tar archive ({exc})") from None
        root = _model_root(tmp, archive)
        model_dir.mkdir(parents=True, exist_ok=True)
        for item in root.iterdir():
            target = model_dir / item.name
            if target.is_dir():
                shutil.rmtree(target)
            item.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_zstd(archive: Path, dest: Path) -> None:
    """Stream a .tar.zst into `dest` with the `zstandard` package or else the `zstd` command."""
    try:
        import zstandard
    except ImportError:
        zstandard = None
    if zstandard is not None:
        with archive.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh) as raw:
            _extract_stream(raw, dest)
        return
    if shutil.which("zstd") is None:
        raise RemoteFinetuneError(
            f"{archive} is zstd-compressed: pip install zstandard (or install the zstd command)"
        )
    with subprocess.Popen(["zstd", "-dcq", str(archive)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        _extract_stream(proc.stdout, dest)
    if proc.returncode:
        raise RemoteFinetuneError(f"{archive}: zstd -d failed with exit status {proc.returncode}")


def _extract_stream(raw: IO[bytes], dest: Path) -> None:
    with tarfile.open(fileobj=raw, mode="r|") as tar:
        tar.extractall(dest, filter="data")


def _model_root(tree: Path, archive: Path) -> Path:
    """The shallowest folder of `tree` that holds a model config."""
    hits = sorted(
        (p.parent for name in MODEL_FILES for p in tree.rglob(name)),
        key=lambda p: len(p.parts),
    )
    if not hits:
        raise RemoteFinetuneError(f"{archive}: no {' or '.join(MODEL_FILES)} in the archive")
    return hits[0]
