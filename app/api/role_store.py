"""Head roles per model: computed once, on the first request, and kept in memory and on disk.

The probes run on the inference gate like any other model run. A model's roles are keyed by
a fingerprint of the probes, the scoring code and the weight files (app/zoo/head_roles.py),
so the file at `cache_dir/roles/{model}-{fingerprint}.json` is valid for as long as it is
found. Concurrent first requests share one computation: the first starts a task, the others
await it, and a request that gives up does not cancel it. A file that cannot be read or does
not hold this fingerprint's roles is computed again and replaced; a file that cannot be
written is logged, and the roles are still served from memory.

Behind a proxy, each replica keeps its own: whichever is asked computes them (or finds them in
its cache_dir, which replicas on one machine share) and gets the same roles, a function of the
weights and the probes. Nothing about them lives in one process only.
"""

import asyncio
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import anyio.to_thread
from pydantic import ValidationError

from app.api.inference import InferenceGate
from app.api.schemas.models import HeadRoleOut, HeadRolesOut, ProbeOut, RoleOut
from app.attention.roles import RULES
from app.zoo import head_roles
from app.zoo.base import ModelAdapter
from app.zoo.probes import Probe, probes_for

log = logging.getLogger(__name__)

RolesKey = tuple[str, str | None]  # (model id, variant)


def roles_payload(
    model_id: str,
    variant: str | None,
    fingerprint: str,
    probes: list[Probe],
    heads: list[head_roles.HeadRole],
) -> HeadRolesOut:
    return HeadRolesOut(
        model=model_id,
        variant=variant,
        fingerprint=fingerprint,
        roles=[
            RoleOut(
                role=rule.role,
                meaning=rule.meaning,
                threshold=rule.threshold,
                pattern=rule.pattern,
                kinds=list(rule.kinds),
            )
            for rule in RULES
        ],
        probes=[ProbeOut.model_validate(asdict(probe)) for probe in probes],
        heads=[
            HeadRoleOut(
                block=str(head.block),
                stack=head.block.stack,
                kind=head.block.kind,
                layer=head.block.layer,
                head=head.head,
                role=head.role,
                score=head.score,
                scores=head.scores,
            )
            for head in heads
        ],
    )


def read_cached(path: Path, expected: str) -> HeadRolesOut | None:
    """The roles in `path` if it holds this fingerprint's; None if missing or unusable."""
    try:
        cached = HeadRolesOut.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError, UnicodeDecodeError) as error:
        log.warning("head roles in %s are unreadable (%s); computing them again", path, error)
        return None
    if cached.fingerprint != expected:
        log.warning("head roles in %s are for another fingerprint; computing them again", path)
        return None
    return cached


def write_atomically(path: Path, roles: HeadRolesOut) -> None:
    """Write to a temporary file in the same folder, then rename it over `path`: a reader
    sees the old file or the new one, never half of one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(roles.model_dump_json().encode())
            os.chmod(temporary, 0o644)  # mkstemp makes it private; the cache is shared
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        log.warning("head roles could not be saved to %s (%s); kept in memory", path, error)


class HeadRoleStore:
    def __init__(self, cache_dir: Path) -> None:
        self.folder = cache_dir / "roles"
        self._memory: dict[RolesKey, HeadRolesOut] = {}
        self._pending: dict[RolesKey, asyncio.Task[HeadRolesOut]] = {}
        self.computations = 0  # how many times the probes ran: a cache that works keeps it low

    async def get(
        self, adapter: ModelAdapter, variant: str | None, gate: InferenceGate
    ) -> HeadRolesOut:
        key = (adapter.info.id, variant)
        known = self._memory.get(key)
        if known is not None:
            return known
        task = self._pending.get(key)
        if task is None:
            task = asyncio.create_task(self._load_or_compute(key, adapter, gate))
            self._pending[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        # A request that goes away (a closed tab) leaves the computation running for the next.
        return await asyncio.shield(task)

    def _settle(self, key: RolesKey, task: "asyncio.Task[HeadRolesOut]") -> None:
        self._pending.pop(key, None)
        if not task.cancelled() and task.exception() is None:
            self._memory[key] = task.result()

    async def _load_or_compute(
        self, key: RolesKey, adapter: ModelAdapter, gate: InferenceGate
    ) -> HeadRolesOut:
        model_id, variant = key
        probes = probes_for(adapter.info)
        fingerprint = await anyio.to_thread.run_sync(
            head_roles.fingerprint, adapter, probes, variant
        )
        path = self.folder / f"{model_id}-{fingerprint}.json"
        cached = await anyio.to_thread.run_sync(read_cached, path, fingerprint)
        if cached is not None:
            return cached

        def compute() -> HeadRolesOut:
            heads = head_roles.score_heads(adapter, probes, variant)
            return roles_payload(model_id, variant, fingerprint, probes, heads)

        self.computations += 1
        roles = await gate.run(compute)
        await anyio.to_thread.run_sync(write_atomically, path, roles)
        return roles
