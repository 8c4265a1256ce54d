"""Results of a catalog batch: one :class:`PhotoOutcome` per photo and the :class:`BatchSummary`.

A photo's status sums up its hosts' :class:`~backend.sidecar.apply.Outcome`:

* ``failed``: the photo could not be read or suggested for, or any host's sidecar failed;
* ``written`` (``would-write`` in a dry run): at least one host's sidecar was (would be) written;
* ``skipped``: every host was skipped, with the reasons (``already done`` when the journal says so).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from backend.errors import ErrorKind
from backend.recipe import Recipe
from backend.sidecar.apply import Outcome

__all__ = [
    "ALREADY_DONE",
    "STATUSES",
    "TAKEN_OUT",
    "TAKEN_OUT_REASONS",
    "BatchSummary",
    "ErrorKind",
    "PhotoOutcome",
    "PhotoStatus",
    "reason_group",
]

#: Reason of a host (and photo) the journal records as done for this run's configuration.
ALREADY_DONE = "already done"
#: Reason of a host whose sidecar this journal wrote autoretouch's edit into and that no longer holds it (or holds
#: a stale darktable record, or was removed with the edit kept in its backup): the user took it out, and a run
#: without ``--overwrite`` leaves it so. It names the photo's own command: a folder's ``--overwrite`` would also
#: replace the other photos' settings.
TAKEN_OUT = (
    "autoretouch's edit was taken out since it was written (by `autoretouch revert` or in darktable/Lightroom); "
    "`autoretouch catalog PHOTO --overwrite` (or `autoretouch apply`) puts it back"
)
#: :data:`TAKEN_OUT` and the reasons journals of earlier versions recorded for it.
TAKEN_OUT_REASONS = (TAKEN_OUT, TAKEN_OUT.partition("; `")[0] + "; --overwrite applies it again")

PhotoStatus = Literal["written", "would-write", "skipped", "failed"]
STATUSES: tuple[str, ...] = ("written", "would-write", "skipped", "failed")

_TIMESTAMP = re.compile(r"\s*\(\d{4}-\d\d-\d\dT[^)]*\)")


def reason_group(reason: str) -> str:
    """A skip reason without its per-file details (timestamps), for counting alike reasons together."""
    return _TIMESTAMP.sub("", reason).strip()


#: The worker process died while processing the photo.
WORKER_CRASH = ErrorKind("WorkerCrash", "INTERNAL", 1)


@dataclass(frozen=True)
class PhotoOutcome:
    """What happened to one photo.

    Attributes:
        photo: the photo (absolute path).
        status: ``written``, ``would-write``, ``skipped`` or ``failed``.
        reason: why it was skipped or failed (names the file for failures); empty when written.
        hosts: one outcome per host handled (``already done`` hosts included as skipped).
        recipe: the recipe applied (at the run's strength), when one was computed.
        seconds: wall time spent on the photo (decode, suggest, sidecars), in seconds.
        index: 1-based position in completion order.
        total: number of photos in the batch.
        error_kind: for a photo that failed as a whole (not one host's sidecar), what kind of error it was.
    """

    photo: Path
    status: PhotoStatus
    reason: str = ""
    hosts: tuple[Outcome, ...] = ()
    recipe: Recipe | None = None
    seconds: float = 0.0
    index: int = 0
    total: int = 0
    error_kind: ErrorKind | None = None

    @property
    def failed(self) -> bool:
        """Whether the photo failed."""
        return self.status == "failed"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "photo": str(self.photo),
            "status": self.status,
            "reason": self.reason,
            "hosts": [o.to_json() for o in self.hosts],
            "recipe": None if self.recipe is None else self.recipe.to_dict(),
            "seconds": round(self.seconds, 4),
            "error": None if self.error_kind is None else dataclasses.asdict(self.error_kind),
        }

    @staticmethod
    def summarise(hosts: Sequence[Outcome], error: str | None) -> tuple[PhotoStatus, str]:
        """The photo's status and reason from its hosts' outcomes (or a photo-level error)."""
        if error is not None:
            return "failed", error
        failed = [o for o in hosts if o.failed]
        if failed:
            return "failed", "; ".join(f"{o.host}: {o.reason}" for o in failed)
        if any(o.action == "written" for o in hosts):
            return "written", ""
        if any(o.action == "would-write" for o in hosts):
            return "would-write", ""
        reasons = list(dict.fromkeys(o.reason for o in hosts))
        if len(reasons) == 1:
            return "skipped", reasons[0]
        return "skipped", "; ".join(f"{o.host}: {o.reason}" for o in hosts)


@dataclass
class BatchSummary:
    """The result of :func:`~backend.batch.batch.run_batch`.

    Attributes:
        photos: one outcome per photo, in completion order.
        hosts: the hosts handled.
        style: the style's name; model: its ``NAME@VERSION``.
        strength: α applied.
        dry_run: nothing was written.
        journal: the journal file (``None`` when a dry run found none).
        elapsed_s: wall time of the whole batch, in seconds.
        interrupted: the batch was stopped early (Ctrl-C or ``cancel``); the photos not reached are absent.
        jobs: worker processes used (1 = in the calling process).
    """

    photos: list[PhotoOutcome] = field(default_factory=list)
    hosts: tuple[str, ...] = ()
    style: str = ""
    model: str = ""
    strength: float = 1.0
    dry_run: bool = False
    journal: Path | None = None
    elapsed_s: float = 0.0
    interrupted: bool = False
    jobs: int = 1

    def count(self, status: str) -> int:
        """Number of photos with ``status``."""
        return sum(p.status == status for p in self.photos)

    @property
    def counts(self) -> dict[str, int]:
        """status -> number of photos, for every status."""
        return {s: self.count(s) for s in STATUSES}

    @property
    def skipped_reasons(self) -> dict[str, int]:
        """Reason group -> number of skipped photos, most frequent first."""
        return dict(Counter(reason_group(p.reason) for p in self.photos if p.status == "skipped").most_common())

    @property
    def failures(self) -> list[tuple[Path, str]]:
        """``(photo, reason)`` of every failed photo."""
        return [(p.photo, p.reason) for p in self.photos if p.failed]

    @property
    def any_failed(self) -> bool:
        """Whether any photo failed (the CLI then exits with status 9)."""
        return any(p.failed for p in self.photos)

    @property
    def photos_per_s(self) -> float:
        """Throughput over the whole batch (photos / wall second)."""
        return len(self.photos) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (what ``autoretouch catalog --json`` prints)."""
        return {
            "counts": self.counts,
            "skipped_reasons": self.skipped_reasons,
            "failures": [{"photo": str(p), "reason": r} for p, r in self.failures],
            "photos": [p.to_json() for p in self.photos],
            "hosts": list(self.hosts),
            "style": self.style,
            "model": self.model,
            "strength": self.strength,
            "dry_run": self.dry_run,
            "journal": None if self.journal is None else str(self.journal),
            "elapsed_s": round(self.elapsed_s, 3),
            "interrupted": self.interrupted,
            "jobs": self.jobs,
        }
