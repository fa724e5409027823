"""The grader's own folders on the host: private copies of submissions, made and removed safely.

A submission is hostile data: it may hold 60,000 files, a 3,000-level folder chain, links
to other students' work or a fifo.  Copying is bounded in files, depth, bytes and time
(``SubmissionTooLarge`` says which bound), and removal never recurses in Python and never
builds long paths, so no tree can make it fail.  Everything lives in one folder per
grader process (mode 0700, or 0711 when a sandbox uid must traverse it), marked by a
lock that the grader holds while it runs: the next grader removes the folders of dead
ones, so a SIGKILLed grader leaves nothing behind for long.
"""
from __future__ import annotations

import atexit
import fcntl
import os
import stat
import tempfile
import threading
import time

PREFIX = "gradcheck-grader-"
_LOCK_NAME = "owner.lock"
_base_lock = threading.Lock()
_base: dict = {}
_swept: set = set()   # (pid, parent) pairs already cleared of dead graders' folders by this process


class SubmissionTooLarge(Exception):
    """The submission exceeds a copy bound; the message says which one, in a student's words."""


def grader_folder() -> str:
    """This grader process's private folder (created on first use, removed at exit)."""
    with _base_lock:
        if _base.get("pid") == os.getpid() and os.path.isdir(_base["path"]):
            return _base["path"]
        parent = tempfile.gettempdir()
        if (os.getpid(), parent) not in _swept:   # the audit's runner sweeps first; a Sandbox used alone, here
            remove_stale(parent)
        path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent)
        os.chmod(path, 0o700)
        fd = os.open(os.path.join(path, _LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{os.getpid()}\n".encode())
        _base.update(pid=os.getpid(), path=path, fd=fd)
        return path


@atexit.register
def _remove_own_folder() -> None:
    if _base.get("pid") == os.getpid():
        remove_tree(_base["path"])
        try:
            os.close(_base["fd"])
        except OSError:
            pass
        _base.clear()


def remove_stale(parent: str) -> list[str]:
    """Remove the folders that graders now dead left in ``parent`` (their lock is free); returns them."""
    removed = []
    _swept.add((os.getpid(), parent))
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for e in entries:
        if not e.name.startswith(PREFIX):
            continue
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            continue
        try:
            fd = os.open(os.path.join(e.path, _LOCK_NAME), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            if time.time() - st.st_mtime < 60:  # a grader between mkdtemp and its lock
                continue
            fd = None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # its grader is alive
        remove_tree(e.path)
        removed.append(e.path)
        if fd is not None:
            os.close(fd)
    return removed


def new_folder(mode: int = 0o700) -> str:
    """A fresh folder for one sandbox inside this grader's folder."""
    path = tempfile.mkdtemp(prefix="sandbox-", dir=grader_folder())
    os.chmod(path, mode)
    return path


def open_for_traversal() -> None:
    """Let a sandbox uid pass through (not list) the grader folder, for the fallback engine as root."""
    os.chmod(grader_folder(), 0o711)


TOO_MANY = "the submission has more than {} files and folders"
TOO_DEEP = "the submission's folders are nested more than {} deep"
TOO_BIG = "the submission is larger than {} MB"
TOO_SLOW = "copying the submission took longer than {:g} s"


class _Bounds:
    """The four copy bounds, and what one walk of the submission has used of them so far."""

    def __init__(self, max_bytes: int, max_files: int, max_depth: int, max_seconds: float, deadline: float):
        self.max_bytes, self.max_files, self.max_depth = max_bytes, max_files, max_depth
        self.max_seconds, self.deadline = max_seconds, deadline
        self.files = self.bytes = 0

    def entry(self) -> None:
        self.files += 1
        if self.files > self.max_files:
            raise SubmissionTooLarge(TOO_MANY.format(self.max_files))
        if time.monotonic() > self.deadline:
            raise SubmissionTooLarge(TOO_SLOW.format(self.max_seconds))

    def folder(self, depth: int) -> None:
        if depth > self.max_depth:
            raise SubmissionTooLarge(TOO_DEEP.format(self.max_depth))

    def room_for(self, size: int) -> None:
        if self.bytes + size > self.max_bytes:
            raise SubmissionTooLarge(TOO_BIG.format(self.max_bytes >> 20))


def _walk(src: str, bounds: _Bounds, *, sort: bool = False, unreadable=None):
    """Every entry under ``src`` as (path relative to it, DirEntry, is a folder), each counted
    against ``bounds`` (files, time, depth).  A folder is entered after the caller has seen it;
    ``unreadable(rel, error)`` hears of a folder that cannot be listed."""
    stack = [("", 0)]
    while stack:
        rel, depth = stack.pop()
        try:
            it = os.scandir(os.path.join(src, rel))
        except OSError as err:
            if unreadable is not None:
                unreadable(rel, err)
            continue
        with it:
            for e in sorted(it, key=lambda e: e.name) if sort else it:
                bounds.entry()
                name = os.path.join(rel, e.name)
                try:
                    is_dir = e.is_dir(follow_symlinks=False)
                except OSError:
                    is_dir = False
                if is_dir:
                    bounds.folder(depth + 1)
                yield name, e, is_dir
                if is_dir:
                    stack.append((name, depth + 1))


def copy_submission(src: str, dst: str, *, max_bytes: int = 50 << 20, max_files: int = 2000, max_depth: int = 40,
                    max_seconds: float = 20.0, owner: int | None = None) -> list[str]:
    """Copy regular files and folders of ``src`` into ``dst`` (modes 0700/0600); returns what was skipped.

    Links, fifos, sockets and devices are skipped (named in the result).  Raises
    ``SubmissionTooLarge`` past ``max_files`` entries, ``max_depth`` levels, ``max_bytes``
    in total or ``max_seconds``, before copying anything: a first walk reads at most
    ``max_files + 1`` entries (60,000 files cost what 2,001 do) and copies nothing; the copy
    checks the same bounds again as it goes (the walk and the copy are not one instant).
    ``owner``: chown everything to this uid (root only).
    """
    deadline = time.monotonic() + max_seconds
    limits = (max_bytes, max_files, max_depth, max_seconds, deadline)
    measured = _Bounds(*limits)
    for _, e, is_dir in _walk(src, measured):
        try:
            if not is_dir and e.is_file(follow_symlinks=False):
                size = e.stat(follow_symlinks=False).st_size
                measured.room_for(size)
                measured.bytes += size
        except OSError:
            continue
    skipped: list[str] = []
    copied = _Bounds(*limits)
    os.makedirs(dst, mode=0o700, exist_ok=True)
    os.chmod(dst, 0o700)
    if owner is not None:
        os.chown(dst, owner, owner)
    for name, e, is_dir in _walk(src, copied, sort=True,
                                 unreadable=lambda rel, err: skipped.append(f"{rel or '.'} ({err.strerror})")):
        target = os.path.join(dst, name)
        if is_dir:
            os.mkdir(target, 0o700)
            if owner is not None:
                os.chown(target, owner, owner)
        elif e.is_file(follow_symlinks=False):
            copied.room_for(e.stat(follow_symlinks=False).st_size)
            copied.bytes += _copy_file(e.path, target, owner)
        else:
            skipped.append(name)
    return skipped


def _copy_file(src: str, dst: str, owner: int | None) -> int:
    fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd_in).st_mode):  # swapped for a fifo after the scan
            return 0
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            n = 0
            while True:
                chunk = os.read(fd_in, 1 << 20)
                if not chunk:
                    break
                os.write(fd_out, chunk)
                n += len(chunk)
            if owner is not None:
                os.fchown(fd_out, owner, owner)
            return n
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


def remove_tree(path: str) -> None:
    """Delete ``path`` and everything under it; never raises, whatever the depth, names or modes.

    Works with one open directory at a time, relative to it (no path grows with depth) and
    without recursion; folders the owner made unreadable are opened up first (as their owner
    or root we may).
    """
    try:
        st = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        _quiet(os.unlink, path)
        return
    try:
        os.chmod(path, 0o700)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    chain: list = []  # (name of the folder we are in, its sub-folders still to remove), top to bottom
    pending = _clear_files_list_dirs(fd)
    try:
        while True:
            if pending:
                child = pending.pop()
                try:
                    sub = _open_dir(child, fd)
                except OSError:
                    _quiet(os.rmdir, child, dir_fd=fd)
                    continue
                chain.append((child, pending))
                os.close(fd)
                fd = sub
                pending = _clear_files_list_dirs(fd)
                continue
            if not chain:
                break
            parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = parent
            name, pending = chain.pop()
            _quiet(os.rmdir, name, dir_fd=fd)
    except OSError:
        return
    finally:
        _quiet(os.close, fd)
    _quiet(os.rmdir, path)


def _open_dir(name: str, parent: int) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(name, flags, dir_fd=parent)
    except PermissionError:  # a folder its owner made unreadable: open it up first
        os.chmod(name, 0o700, dir_fd=parent, follow_symlinks=False)
        return os.open(name, flags, dir_fd=parent)


def _clear_files_list_dirs(fd: int) -> list:
    """Unlink every non-folder in the open folder ``fd``; return the names of its sub-folders."""
    dirs = []
    try:
        with os.scandir(fd) as it:
            for e in it:
                try:
                    is_dir = e.is_dir(follow_symlinks=False)
                except OSError:
                    is_dir = False
                if is_dir:
                    dirs.append(e.name)
                else:
                    _quiet(os.unlink, e.name, dir_fd=fd)
    except OSError:
        pass
    return dirs


def _quiet(fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except OSError:
        pass
