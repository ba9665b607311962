"""audit: checkpoints of the chain head anchored outside the database, and verification of the
store against them (ADR 0027)."""
from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

from domain.audit.anchors import Anchor, AnchoredEntry, ChainProblem, Checkpoint, check_checkpoints
from infrastructure.eventstore.store import EventLog

log = logging.getLogger("ledgerflow.audit")

# Checkpoint positions compared with the store on each verify (the highest genuine ones). The
# highest already covers every position before it; the others catch a mismatching line among
# recent ones (one primary-key lookup each). Every record read is checked for its MAC and order.
CHECKPOINTS_CHECKED = 100


@dataclasses.dataclass
class Verification:
    checked: int
    problems: list[ChainProblem]
    anchor: str
    checkpoint: Checkpoint | None  # the newest checkpoint that is genuine and matches the store
    walked_after: int  # 0: the whole chain was walked; else the walk trusted this checkpoint

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_break(self) -> int | None:
        return min(p.position for p in self.problems) if self.problems else None


class ChainRefusedError(Exception):
    """A checkpoint is not written over a chain that does not verify: it would vouch for the tampering."""

    def __init__(self, problems: list[ChainProblem]):
        super().__init__(f"{len(problems)} chain problems; no checkpoint written")
        self.problems = problems


class ChainAnchoring:
    def __init__(self, log: EventLog, anchor: Anchor, key: bytes):
        self.log, self.anchor, self.key = log, anchor, key

    def _checkpoints(self) -> tuple[list[ChainProblem], Checkpoint | None, list[AnchoredEntry]]:
        try:
            entries = self.anchor.latest(CHECKPOINTS_CHECKED)
        except Exception as exc:  # fail closed: an unreadable anchor is a finding, not a pass
            return [ChainProblem(0, "anchor_unavailable", f"{self.anchor.description} could not be read "
                                                          f"({type(exc).__name__}: {exc})")], None, []
        problems, good = check_checkpoints(entries, self.key, self.log.chain_hashes, self.log.last_position(),
                                           CHECKPOINTS_CHECKED)
        return problems, good, entries

    def verify(self, progress: Any = None, *, since_checkpoint: bool = False) -> Verification:
        problems, good, _ = self._checkpoints()
        start = good if since_checkpoint else None
        report = (self.log.verify(progress, after=start.position, after_hash=start.hash) if start
                  else self.log.verify(progress))
        found = sorted(problems + report.problems, key=lambda p: p.position)
        return Verification(report.checked, found, self.anchor.description, good,
                            start.position if start else 0)

    def checkpoint(self, *, force: bool = False) -> Checkpoint | None:
        """Anchor the current head (None: the store is empty, or the head is anchored already).

        Refused while the anchored checkpoints or the chain after the newest good one show a
        problem: a new checkpoint would vouch for the tampering, and enough of them would push
        the evidence out of the checkpoints verify reads. ``force`` (after an incident has been
        investigated) anchors the head anyway; an unreadable anchor is never written past.

        One writer at a time across processes (every worker runs the periodic job, an operator
        may run the CLI): two writers could append out of order, an older head after a newer,
        which verify rightly reports as a regressed checkpoint."""
        with self.log.exclusive("ledgerflow:audit-checkpoint"):
            return self._checkpoint(force)

    def _checkpoint(self, force: bool) -> Checkpoint | None:
        head = self.log.chain_head()
        if head is None:
            return None
        problems, good, entries = self._checkpoints()
        newest = entries[0].checkpoint if entries else None
        if not force and not problems and newest is not None and good is not None \
                and newest.position == head[0] == good.position:
            return None
        if any(p.kind == "anchor_unavailable" for p in problems):
            raise ChainRefusedError(problems)
        walk = self.log.verify(after=good.position, after_hash=good.hash) if good else self.log.verify()
        problems += walk.problems
        if problems and not force:
            log.error("audit chain shows %d problems (first at position %s): no checkpoint written",
                      len(problems), min(p.position for p in problems))
            raise ChainRefusedError(problems)
        checkpoint = Checkpoint.sign(self.key, head[0], head[1], datetime.now(UTC))
        self.anchor.append(checkpoint)
        return checkpoint

    def checkpoint_if_moved(self) -> None:
        """The worker's periodic job."""
        written = self.checkpoint()
        if written is not None:
            log.info("audit chain checkpoint at position %s anchored in %s", written.position,
                     self.anchor.description)
