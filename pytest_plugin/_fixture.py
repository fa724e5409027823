"""The ``gradcheck`` fixture: the library's functions with the session's defaults, recording each report.

gradcheck is imported when a function is first called, never at plugin load.
"""
from __future__ import annotations

import functools

# Which defaults each function takes. A default oracle (session or marker)
# applies to grads_report only: vjp_report goes through numpy (finite differences) and
# jacobian_report has no other oracle, so a session-wide "jax" would break them.
_ACCEPTS = {
    "grads_report": ("oracle", "mode", "rtol", "atol", "seed", "directions"),
    "vjp_report": ("mode", "rtol", "atol", "seed", "directions"),
    "jacobian_report": ("rtol", "atol", "seed"),
}


class GradcheckFixture:
    """``gradcheck.assert_grads_match`` and friends, with this session's and this test's settings as defaults.

    Explicit keyword arguments win over the test's ``@pytest.mark.gradcheck(...)`` keywords, which win
    over ``--gradcheck-*`` options and ini keys. Every report is recorded for the gradcheck summary and
    ``--gradcheck-report``. ``.reports`` holds this test's reports (CheckReport objects).
    """

    def __init__(self, session_defaults: dict, marker_defaults: dict, recording):
        self.session_defaults = dict(session_defaults)
        self.marker_defaults = dict(marker_defaults)
        self.reports: list = []
        self._recording = recording  # context: the session's observer records what runs inside it

    def options_for(self, function: str, explicit: dict) -> dict:
        """The keyword arguments a call to ``function`` gets: explicit > marker > session."""
        accepts = _ACCEPTS[function]
        opts = {k: v for k, v in self.session_defaults.items() if k in accepts}
        opts.update({k: v for k, v in self.marker_defaults.items() if k in accepts})
        opts.update(explicit)
        return opts

    def _check(self, function: str, args, explicit, *, asserting=False):
        """gradcheck.<function> (or, asserting, its assert_*_match twin) with this test's defaults, recorded."""
        __tracebackhide__ = True
        import gradcheck

        # asserting: grads_report -> assert_grads_match
        name = "assert_" + function[:-len("_report")] + "_match" if asserting else function
        try:
            with self._recording():
                report = getattr(gradcheck, name)(*args, **self.options_for(function, explicit))
        except _library_errors() as exc:
            if asserting and isinstance(exc, gradcheck.GradientMismatch) and exc.report is not None:
                self.reports.append(exc.report)
            raise _without_library_frames(exc)
        self.reports.append(report)
        return report

    def grads_report(self, f, params, grads=None, **options):
        """gradcheck.grads_report with this test's defaults; returns the CheckReport."""
        return self._check("grads_report", (f, params, grads), options)

    def assert_grads_match(self, f, params, grads=None, **options):
        """gradcheck.assert_grads_match with this test's defaults; raises GradientMismatch."""
        __tracebackhide__ = True
        return self._check("grads_report", (f, params, grads), options, asserting=True)

    def vjp_report(self, f, inputs, cotangent, vjp, **options):
        """gradcheck.vjp_report with this test's defaults."""
        return self._check("vjp_report", (f, inputs, cotangent, vjp), options)

    def assert_vjp_match(self, f, inputs, cotangent, vjp, **options):
        """gradcheck.assert_vjp_match with this test's defaults."""
        __tracebackhide__ = True
        return self._check("vjp_report", (f, inputs, cotangent, vjp), options, asserting=True)

    def jacobian_report(self, f, x, jacobian, **options):
        """gradcheck.jacobian_report with this test's rtol/atol/seed defaults."""
        return self._check("jacobian_report", (f, x, jacobian), options)

    def assert_jacobian_match(self, f, x, jacobian, **options):
        """gradcheck.assert_jacobian_match with this test's rtol/atol/seed defaults."""
        __tracebackhide__ = True
        return self._check("jacobian_report", (f, x, jacobian), options, asserting=True)

    def __repr__(self) -> str:
        return (f"<gradcheck fixture session={self.session_defaults!r} marker={self.marker_defaults!r} "
                f"{len(self.reports)} check(s)>")


def _library_errors() -> tuple:
    """gradcheck's own errors: a wrong gradient or a wrong call, each with a message that says it all."""
    from gradcheck import errors

    return (errors.GradientMismatch, errors.GradcheckUsageError, errors.NonNumericParams)


def _without_library_frames(exc: BaseException) -> BaseException:
    """The error with gradcheck's own frames dropped: the user's test line and the message are what matter.

    A failure inside the user's f or grads keeps its frames (it is chained as the cause).
    """
    return exc.with_traceback(None)


@functools.lru_cache(maxsize=1)
def remote_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("gradcheck.audit.remote") is not None
    except ImportError:
        return False
