"""Write outputs under a temporary name and rename on success, so a crash leaves no partial
file; a write that the system refuses (disk full, no permission) is one line naming the path."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from lyra.errors import WriteError

# what the system says when an output cannot be written; other OS errors (e.g. a network
# error inside a download's block) keep their own type
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO, errno.EFBIG,
                 errno.ENOENT, errno.ENOTDIR, errno.EISDIR}


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    An OSError of a refused write (``_WRITE_ERRNOS``), in the block or in the rename,
    becomes WriteError ``<path>: writing: <cause>``, e.g. "no space left on device"."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        if error.errno not in _WRITE_ERRNOS:
            raise
        cause = os.strerror(error.errno)
        raise WriteError(path, "writing", cause[:1].lower() + cause[1:]) from error
    finally:
        tmp.unlink(missing_ok=True)
