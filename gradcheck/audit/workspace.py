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


def copy_submission(src: str, dst: str, *, max_bytes: int = 50 << 20, max_files: int = 2000, max_depth: int = 40,
                    max_seconds: float = 20.0, owner: int | None = None) -> list[str]:
    """Copy regular files and folders of ``src`` into ``dst`` (modes 0700/0600); returns what was skipped.

    Links, fifos, sockets and devices are skipped (named in the result).  Raises
    ``SubmissionTooLarge`` past ``max_files`` entries, ``max_depth`` levels, ``max_bytes``
    in total or ``max_seconds``.  ``owner``: chown everything to this uid (root only).
    """
    skipped: list[str] = []
    deadline = time.monotonic() + max_seconds
    _measure(src, max_bytes=max_bytes, max_files=max_files, max_depth=max_depth, deadline=deadline,
             max_seconds=max_seconds)
    total = count = 0
    os.makedirs(dst, mode=0o700, exist_ok=True)
    os.chmod(dst, 0o700)
    if owner is not None:
        os.chown(dst, owner, owner)
    stack = [("", 0)]
    while stack:
        rel, depth = stack.pop()
        try:
            entries = sorted(os.scandir(os.path.join(src, rel)), key=lambda e: e.name)
        except OSError as e:
            skipped.append(f"{rel or '.'} ({e.strerror})")
            continue
        for e in entries:
            count += 1
            if count > max_files:
                raise SubmissionTooLarge(TOO_MANY.format(max_files))
            if time.monotonic() > deadline:
                raise SubmissionTooLarge(TOO_SLOW.format(max_seconds))
            name = os.path.join(rel, e.name)
            target = os.path.join(dst, name)
            if e.is_dir(follow_symlinks=False):
                if depth + 1 > max_depth:
                    raise SubmissionTooLarge(TOO_DEEP.format(max_depth))
                os.mkdir(target, 0o700)
                if owner is not None:
                    os.chown(target, owner, owner)
                stack.append((name, depth + 1))
            elif e.is_file(follow_symlinks=False):
                size = e.stat(follow_symlinks=False).st_size
                if total + size > max_bytes:
                    raise SubmissionTooLarge(TOO_BIG.format(max_bytes >> 20))
                total += _copy_file(e.path, target, owner)
            else:
                skipped.append(name)
    return skipped


def _measure(src: str, *, max_bytes: int, max_files: int, max_depth: int, deadline: float,
             max_seconds: float) -> None:
    """Refuse an oversized submission before copying any of it: a walk that reads at most
    ``max_files + 1`` entries (60,000 files cost what 2,001 do) and copies nothing.

    The copy checks the same limits again as it goes (the walk and the copy are not one instant).
    """
    total = count = 0
    stack = [("", 0)]
    while stack:
        rel, depth = stack.pop()
        try:
            it = os.scandir(os.path.join(src, rel))
        except OSError:
            continue   # the copy names it among the skipped
        with it:
            for e in it:
                count += 1
                if count > max_files:
                    raise SubmissionTooLarge(TOO_MANY.format(max_files))
                if time.monotonic() > deadline:
                    raise SubmissionTooLarge(TOO_SLOW.format(max_seconds))
                try:
                    if e.is_dir(follow_symlinks=False):
                        if depth + 1 > max_depth:
                            raise SubmissionTooLarge(TOO_DEEP.format(max_depth))
                        stack.append((os.path.join(rel, e.name), depth + 1))
                    elif e.is_file(follow_symlinks=False):
                        total += e.stat(follow_symlinks=False).st_size
                        if total > max_bytes:
                            raise SubmissionTooLarge(TOO_BIG.format(max_bytes >> 20))
                except OSError:
                    continue


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
