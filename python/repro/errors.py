"""Exceptions raised by the repro package.

Every failure of the C library comes back as a :class:`ReproError` subclass
chosen by its ``repro_status`` code, carrying the library's message (which
names the file, key, line or value at fault). Each class also derives from
the matching built-in exception, so ``except ValueError`` catches a bad
config and ``except OSError`` an unreadable file.
"""
from __future__ import annotations

from typing import Dict, Type

__all__ = [
    "ReproError", "ArgumentError", "ReproIOError", "FormatError", "ConfigError",
    "ReproMemoryError", "NumericError", "UnsupportedError", "StateError", "InternalError",
    "StopTraining", "error_for_status",
]


class ReproError(Exception):
    """A failure reported by librepro.

    Attributes:
        status: the ``repro_status`` code (``include/repro/status.h``).
        message: the library's message, as the command line prints it.
    """

    status: int = -1

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class ArgumentError(ReproError, ValueError):
    """REPRO_ERR_ARG: an invalid argument (e.g. NaN in an array)."""
    status = 1


class ReproIOError(ReproError, OSError):
    """REPRO_ERR_IO: a file could not be opened, read or written."""
    status = 2


class FormatError(ReproError, ValueError):
    """REPRO_ERR_FORMAT: a file's contents are malformed or truncated."""
    status = 3


class ConfigError(ReproError, ValueError):
    """REPRO_ERR_CONFIG: a configuration is invalid (syntax, key, type, range)."""
    status = 4


class ReproMemoryError(ReproError, MemoryError):
    """REPRO_ERR_NOMEM: an allocation failed."""
    status = 5


class NumericError(ReproError, ArithmeticError):
    """REPRO_ERR_NUMERIC: a NaN or infinity appeared where it must not."""
    status = 6


class UnsupportedError(ReproError, NotImplementedError):
    """REPRO_ERR_UNSUPPORTED: this build or mode cannot do it exactly."""
    status = 7


class StateError(ReproError, RuntimeError):
    """REPRO_ERR_STATE: refused in the current state (e.g. the run exists)."""
    status = 8


class InternalError(ReproError, RuntimeError):
    """REPRO_ERR_INTERNAL: a bug in repro; please report it."""
    status = 9


_BY_STATUS: Dict[int, Type[ReproError]] = {
    cls.status: cls
    for cls in (ArgumentError, ReproIOError, FormatError, ConfigError, ReproMemoryError,
                NumericError, UnsupportedError, StateError, InternalError)
}


def error_for_status(status: int, message: str) -> ReproError:
    """The exception for a ``repro_status`` code and its message."""
    cls = _BY_STATUS.get(status, ReproError)
    return cls(message, status)


class StopTraining(Exception):
    """Raise from an ``on_step`` or ``on_epoch`` callback to stop the run.

    The run stops at that step (or at the end of that epoch), writes a
    checkpoint and is marked interrupted, so it can be resumed with
    ``repro.train(..., resume=run_dir)`` and give the same bits as never
    stopping. Returning :data:`repro.STOP` from a callback does the same.
    """
