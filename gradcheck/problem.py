"""The problem: params flattened once, a float64 working copy, a counted evaluator.

Everything downstream works on one flat float64 vector plus the leaf table
(paths kept for messages). f is always called with fresh objects of the kinds
the user gave (numpy, JAX, torch, Python scalars), cast up to float64 where f
accepts it, and every call is checked for in-place mutation.
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass

import numpy as np

from gradcheck import pytree, tolerances
from gradcheck.report import mutation_detail
from gradcheck.errors import (
    FunctionRaised,
    GradcheckUsageError,
    InPlaceMutation,
    NonNumericParams,
    NonScalarOutput,
    StructureMismatch,
)


@dataclass
class Leaf:
    path: str
    kind: str           # numpy | jax | torch | python | numpy_scalar
    shape: tuple
    dtype: np.dtype     # the user's dtype
    offset: int
    size: int

    @property
    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.size)


def _kind(obj) -> str:
    module = type(obj).__module__ or ""
    if module.startswith("torch"):
        return "torch"
    if module.startswith("jax") or module.startswith("jaxlib"):
        return "jax"
    if isinstance(obj, np.ndarray):
        return "numpy"
    if isinstance(obj, np.generic):
        return "numpy_scalar"
    if isinstance(obj, (bool, int, float)):
        return "python"
    return "numpy"


def to_numpy(obj) -> np.ndarray:
    """Any array-like (torch CPU tensors included) as a numpy array, no copy promised.

    A torch bfloat16 tensor becomes an ml_dtypes bfloat16 array (numpy has no
    bfloat16 of its own), so its dtype, and with it its tolerance, is kept.
    """
    if _kind(obj) == "torch":
        obj = obj.detach().cpu()
        if str(obj.dtype) == "torch.bfloat16":
            return _torch_bfloat16(obj)
        obj = obj.numpy()
    return np.asarray(obj)


def _torch_bfloat16(tensor) -> np.ndarray:
    try:
        import ml_dtypes
    except ImportError:
        raise NonNumericParams("a torch bfloat16 tensor needs the ml_dtypes package to be checked as bfloat16: "
                               "pip install ml_dtypes (or pass tensor.float())") from None
    return tensor.float().numpy().astype(ml_dtypes.bfloat16)


def _check_numeric(arr: np.ndarray, path: str, what: str) -> None:
    if not tolerances.is_real_numeric(arr.dtype):
        hint = " complex values are not supported" if arr.dtype.kind == "c" else ""
        raise NonNumericParams(
            f"{path} is not a real numeric array (dtype {arr.dtype}, type {type(arr).__name__}).{hint} "
            f"{what} must hold float arrays or numbers; convert it with np.asarray(..., dtype=float)."
        )


def flatten_with_paths(tree, root: str):
    """(paths, leaves, treedef) with gradcheck's own flattener (jax only for JAX containers)."""
    return pytree.flatten_with_paths(tree, root)


def _jax_x64():
    """A context that makes JAX compute in float64 for one call, if JAX is in use."""
    if "jax" in sys.modules:
        import jax

        return jax.enable_x64(True)
    return contextlib.nullcontext()


def probing(away: bool):
    """numpy's floating-point warnings off where f is evaluated away from your point.

    A probe may step past a domain boundary (log of a tiny positive parameter): f gives nan there and
    the finite differences come closer. numpy's "invalid value" warnings would only be noise in your
    test's output, and where warnings are errors (``-W error``, ``filterwarnings = error``) they would
    abort a check that passes otherwise. At your point itself, your settings apply.
    """
    return np.errstate(all="ignore") if away else contextlib.nullcontext()


@dataclass(frozen=True)
class Coordinate:
    """The direction scale * e_index, without a full-size array (element-wise checks)."""

    index: int
    scale: float


def _moved(x: np.ndarray, leaf: Leaf, u, tau: float) -> np.ndarray:
    """x + tau*u on one leaf, as a new float64 array."""
    if isinstance(u, Coordinate):
        seg = np.array(x[leaf.slice], dtype=np.float64)
        if leaf.offset <= u.index < leaf.offset + leaf.size:
            seg[u.index - leaf.offset] += tau * u.scale
        return seg
    seg = np.multiply(u[leaf.slice], tau, dtype=np.float64)
    seg += x[leaf.slice]
    return seg


class Problem:
    """f and params, seen as a function of one float64 vector."""

    def __init__(self, f, params, *, root: str = "params", call=None):
        if not callable(f):
            swapped = " (f and params swapped? the order is f, params, grads)" if callable(params) else ""
            raise TypeError(f"f must be callable (f(params) -> scalar loss); got {type(f).__name__}{swapped}")
        self.f = f
        self.root = root
        self.call = call or (lambda fn, p: fn(p))
        paths, raw, self.treedef = flatten_with_paths(params, root)
        if not raw:
            raise StructureMismatch(f"{root} has no array leaves: there is nothing to check.")
        self.leaves: list[Leaf] = []
        arrays = []
        offset = 0
        for path, obj in zip(paths, raw):
            arr = to_numpy(obj)
            _check_numeric(arr, path, root)
            dtype = tolerances.float_or_float64(arr.dtype)
            self.leaves.append(Leaf(path, _kind(obj), arr.shape, dtype, offset, arr.size))
            arrays.append(arr)
            offset += arr.size
        self.x0 = np.empty(offset)
        for leaf, arr in zip(self.leaves, arrays):
            self.x0[leaf.slice] = arr.reshape(-1)
        self.x0.setflags(write=False)
        self.n = self.x0.size
        self.n_evals = 0
        self.cast = "float64"

    def involves(self, framework: str) -> bool:
        """True when f or params can involve ``framework`` ("jax" or "torch").

        A leaf of that kind, or the framework already imported by the user's code
        (f may build its arrays itself) while no leaf belongs to another framework
        (torch tensors in, torch code inside). Never imports the framework.
        """
        kinds = {leaf.kind for leaf in self.leaves}
        if framework in kinds:
            return True
        others = {"jax", "torch"} - {framework}
        return framework in sys.modules and not (kinds & others)

    # -- building params -------------------------------------------------
    def build(self, x: np.ndarray, cast: str | None = None, *, u=None, tau: float = 0.0):
        """Fresh user-kind objects holding x (+ tau*u), float64 or the user's dtypes.

        With a direction u, each leaf is computed on its own, so no full-size
        temporary is made (a 1M-parameter check stays within a few copies).
        """
        cast = cast or self.cast
        out = []
        for leaf in self.leaves:
            seg = x[leaf.slice] if u is None else _moved(x, leaf, u, tau)
            dtype = np.float64 if cast == "float64" else leaf.dtype
            out.append(self._make(leaf, seg.reshape(leaf.shape), dtype, fresh=u is None))
        return self.treedef.unflatten(out)

    @staticmethod
    def _make(leaf: Leaf, seg: np.ndarray, dtype, fresh: bool = True):
        if leaf.kind == "numpy":
            return np.array(seg, dtype=dtype, copy=fresh or seg.dtype != dtype)
        if leaf.kind == "numpy_scalar":
            return np.dtype(dtype).type(seg.reshape(()))
        if leaf.kind == "python":
            return float(seg.reshape(()))
        if leaf.kind == "jax":
            import jax.numpy as jnp

            return jnp.asarray(np.array(seg, dtype=dtype))
        if leaf.kind == "torch":
            import torch

            if tolerances.is_float(dtype) and "bfloat16" in str(dtype):
                return torch.from_numpy(np.array(seg, dtype=np.float32)).to(torch.bfloat16)
            return torch.from_numpy(np.array(seg, dtype=dtype))
        raise AssertionError(leaf.kind)

    def unflatten(self, flat: np.ndarray):
        """A pytree of numpy arrays shaped like params (for reports and callbacks)."""
        parts = [np.array(flat[leaf.slice].reshape(leaf.shape)) for leaf in self.leaves]
        return self.treedef.unflatten(parts)

    # -- evaluating f ------------------------------------------------------
    def evaluate(self, x: np.ndarray, *, where: str = "", u=None, tau: float = 0.0) -> float:
        """f at x (+ tau*u), counted and checked for in-place mutation."""
        with _jax_x64(), probing(tau != 0.0 or x is not self.x0):
            params = self.build(x, u=u, tau=tau)
            try:
                out = self.call(self.f, params)
            except (GradcheckUsageError, NonNumericParams):
                raise  # our own wrappers' usage errors reach the user as they are
            except Exception as exc:  # noqa: BLE001 - shown to the user
                if where:
                    hint = (f" at {where}.\ngradcheck calls f many times with slightly perturbed copies of "
                            f"params; f must accept any nearby values.")
                else:
                    hint = " when called with (a copy of) your params."
                raise FunctionRaised(f"f raised {type(exc).__name__}: {_short(exc)}{hint}"
                                     f"{self._unpack_hint(exc)}") from exc
        self.n_evals += 1
        # A function that updates its inputs does so at every call: the first calls
        # and every 8th after them are checked, which keeps large checks cheap.
        if self.n_evals <= 4 or self.n_evals % 8 == 0:
            self.check_unchanged(params, x, who="f", u=u, tau=tau)
        return to_scalar(out, "f")

    def _unpack_hint(self, exc: BaseException) -> str:
        """A tuple of params goes to f as ONE argument; say so when f wants several."""
        if not isinstance(exc, TypeError) or self.treedef.kind not in ("tuple", "list"):
            return ""
        n = _positional_parameters(self.f)
        if n is None or n < 2:
            return ""
        return (f"\nf takes {n} positional parameters, but gradcheck calls f(params) with the whole "
                f"{self.treedef.kind} as one argument. Wrap it: lambda p: f(*p)")

    def first_evaluation(self) -> float:
        """Evaluate at x0, choosing float64 or, if f refuses it, the user's dtypes."""
        try:
            return self.evaluate(self.x0)
        except FunctionRaised:
            if all(leaf.dtype == np.float64 for leaf in self.leaves):
                raise
            self.cast = "original"  # f may insist on its own dtype (e.g. float32 only)
            return self.evaluate(self.x0)

    def check_unchanged(self, params, x: np.ndarray, *, who: str, u=None, tau: float = 0.0) -> None:
        """Raise InPlaceMutation if the call modified the arrays it was given.

        Compared leaf by leaf, without a full-size temporary.
        """
        for leaf, obj in zip(self.leaves, self.treedef.flatten_up_to(params)):
            if leaf.kind not in ("numpy", "torch"):
                continue
            now = np.asarray(to_numpy(obj)).reshape(-1)
            if isinstance(u, Coordinate):
                same = now.shape == (leaf.size,) and _unchanged(now, _moved(x, leaf, u, tau), None, 0.0)
            else:
                same = now.shape == (leaf.size,) and _unchanged(
                    now, x[leaf.slice], None if u is None else u[leaf.slice], tau)
            if not same:
                was = x[leaf.slice] if u is None else _moved(x, leaf, u, tau)
                raise InPlaceMutation(_mutation_message(leaf, now.astype(np.float64), np.asarray(was, np.float64), who))


def _unchanged(now: np.ndarray, x: np.ndarray, u, tau: float, chunk: int = 1 << 16) -> bool:
    """now == x + tau*u (in now's dtype), compared in chunks so no full-size temporary is made."""
    for start in range(0, now.size, chunk):
        part = slice(start, start + chunk)
        was = x[part] if u is None else x[part] + tau * u[part].astype(np.float64)
        if now.dtype != np.float64:
            was = was.astype(now.dtype)
        a = now[part]
        if not np.array_equal(a, was) and not np.array_equal(a, was, equal_nan=True):
            return False
    return True


def _mutation_message(leaf: Leaf, now, was, who: str) -> str:
    if now.shape != was.shape:
        detail = f"its size changed from {was.size} to {now.size}"
    else:
        i = int(np.flatnonzero(~np.isclose(now, was, rtol=0, atol=0, equal_nan=True))[0])
        idx = tuple(int(k) for k in np.unravel_index(i, leaf.shape)) if leaf.shape else ()
        detail = mutation_detail(list(idx), float(was[i]), float(now[i]))
    return (
        f"{who} modified {leaf.path} in place ({detail}). gradcheck passed a copy, so your own arrays "
        f"are untouched, but a function that updates its inputs cannot be checked: every evaluation "
        f"would start from a different point. Copy before updating (W = W - lr*dW instead of W -= lr*dW), "
        f"or move the update out of {who}."
    )


def _positional_parameters(f) -> int | None:
    """How many positional parameters f declares (None if it takes *args or cannot be inspected)."""
    import inspect

    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return None
    kinds = [p.kind for p in sig.parameters.values()]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return None
    return sum(k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in kinds)


def raised(who: str, exc: BaseException, at: str = "") -> FunctionRaised:
    """The usage error for an exception out of the user's code: "{who} raised {type}{at}: {message}"."""
    return FunctionRaised(f"{who} raised {type(exc).__name__}{at}: {_short(exc)}")


def _short(exc: BaseException, limit: int = 500) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001
        text = f"<{type(exc).__name__} whose str() raised>"
    return text if len(text) <= limit else text[:limit] + " ..."


def to_scalar(out, who: str) -> float:
    """One real number from f's output, or a NonScalarOutput that says what to do."""
    if isinstance(out, bool):
        raise NonScalarOutput(f"{who} returned a bool ({out}); it must return a real scalar loss.")
    if isinstance(out, (int, float)):
        return float(out)
    if isinstance(out, (tuple, list, dict)):
        raise NonScalarOutput(
            f"{who} returned a {type(out).__name__}; it must return one real scalar (the loss). "
            f"If your function returns (loss, cache), wrap it: lambda p: f(p)[0]."
        )
    try:
        arr = to_numpy(out)
    except Exception as exc:  # noqa: BLE001
        raise NonScalarOutput(f"{who} returned {type(out).__name__}, not a number: {_short(exc)}") from exc
    if arr.dtype.kind == "c":
        raise NonScalarOutput(f"{who} returned a complex value; gradcheck checks real-valued losses.")
    if not tolerances.is_real_numeric(arr.dtype):
        raise NonScalarOutput(f"{who} returned dtype {arr.dtype}; it must return a real scalar loss.")
    if arr.size != 1:
        raise NonScalarOutput(
            f"{who} returned an array of shape {arr.shape}; it must return a scalar loss. Reduce it "
            f"(e.g. .sum()), or use assert_vjp_match / assert_jacobian_match for vector-valued functions."
        )
    return float(arr.reshape(()))


def flatten_like(problem: Problem, tree, *, what: str) -> list[np.ndarray]:
    """Leaves of ``tree`` matched to params' structure, with errors that name paths."""
    try:
        parts = problem.treedef.flatten_up_to(tree)
    except (ValueError, TypeError) as exc:
        raise StructureMismatch(_structure_message(problem, tree, what, exc)) from None
    bad = []
    arrays = []
    for leaf, part in zip(problem.leaves, parts):
        path = what + leaf.path[len(problem.root):]
        if part is None:
            bad.append(f"  {path} is None (expected shape {leaf.shape})")
            arrays.append(None)
            continue
        arr = to_numpy(part)
        _check_numeric(arr, path, what)
        if arr.shape != leaf.shape:
            hint = " (same size: reshape yours)" if arr.size == leaf.size else ""
            bad.append(f"  {path} has shape {arr.shape}, {leaf.path} has shape {leaf.shape}{hint}")
        arrays.append(arr)
    if bad:
        raise StructureMismatch(f"{what} does not match {problem.root}:\n" + "\n".join(bad))
    return arrays


def _structure_message(problem: Problem, tree, what: str, exc) -> str:
    try:
        other_paths, _, _ = flatten_with_paths(tree, what)
    except Exception:  # noqa: BLE001
        other_paths = []
    mine = {leaf.path[len(problem.root):] for leaf in problem.leaves}
    theirs = {p[len(what):] for p in other_paths}
    missing = sorted(mine - theirs)
    extra = sorted(theirs - mine)
    lines = [f"{what} does not have the structure of {problem.root}."]
    if missing:
        lines.append(f"  missing from {what}: " + ", ".join(what + m for m in missing))
    if extra:
        lines.append(f"  in {what} but not in {problem.root}: " + ", ".join(what + e for e in extra))
    if not missing and not extra:
        lines.append(f"  same paths, different containers: {problem.root} is {problem.treedef}")
        lines.append(f"  {_short(exc, 300)}")
    lines.append(f"Give {what} exactly the keys and nesting of {problem.root}, one array per parameter.")
    return "\n".join(lines)
