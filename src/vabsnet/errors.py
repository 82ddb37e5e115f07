"""Exceptions raised for bad user input. Each names the file (or record) and the problem."""

from __future__ import annotations


class VabsnetError(Exception):
    """Base class of the errors vabsnet raises on purpose."""


class StructureError(VabsnetError):
    """A structure file could not be turned into a :class:`~vabsnet.structure.Protein`.

    Parameters
    ----------
    source : str
        The file (or record id) that failed.
    reason : str
        What is wrong with it, in words a user can act on.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


class StoreError(VabsnetError):
    """A dataset store is missing, corrupt, or was built with other options."""


class LMFeatureError(VabsnetError):
    """Language-model features are missing, or do not match the chain they are meant for."""


def failure_reason(exc: BaseException) -> str:
    """The line a batch job records when it skips an input: the reason of our own errors, the type and
    message of anything else (a bug or a pathological file must not end the batch)."""
    if isinstance(exc, StructureError):
        return exc.reason
    if isinstance(exc, LMFeatureError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"
