"""gradcheck's pytest plugin (loaded through the ``pytest11`` entry point).

Thin by design: options, the ``gradcheck`` marker, the ``gradcheck`` and
``submission`` fixtures, a terminal summary and a JSON report. The checks
themselves are the library's. Loading this module imports pytest and the
standard library only; gradcheck (numpy) and jax are imported when a check runs.

Per-test results travel on the test reports (``report.gradcheck_checks``, a
list of JSON-safe dicts), so the summary and the report file hold every
worker's checks under pytest-xdist.
"""
from __future__ import annotations

import contextlib
import sys

import pytest

from . import _options, _summary
from ._fixture import GradcheckFixture, remote_available

__all__ = ["GradcheckFixture", "pytest_addoption", "pytest_configure", "gradcheck", "submission"]

SETTINGS_KEY = pytest.StashKey()
CHECKS_KEY = pytest.StashKey()       # on an item: checks recorded since its last report
REPORT_ATTR = "gradcheck_checks"     # on a TestReport: the checks made in that phase
SKIP_REASON = f"gradcheck test: {_options.ENABLE_HINT}"   # marked tests without --gradcheck


def pytest_addoption(parser: pytest.Parser) -> None:
    _options.addoption(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _options.MARKER_DOC)
    settings = _options.read(config)
    config.stash[SETTINGS_KEY] = settings
    config.pluginmanager.register(_Session(config, settings), SESSION_NAME)


SESSION_NAME = "gradcheck-session"


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class _Session:
    """Hooks that need the session's state: the recorded checks."""

    def __init__(self, config: pytest.Config, settings: _options.Settings):
        self.config = config
        self.settings = settings
        self.checks: list = []
        self.report_written: str | None = None
        self.report_error: str | None = None
        self.current_item = None
        self.observing = None          # the gradcheck module we observe, once it is imported
        self.fixture_calls = 0         # > 0 while the gradcheck fixture runs a check
        self.previous_mode = None      # the library's default mode before --gradcheck-mode changed it
        self.skipped_marked = 0        # tests skipped because --gradcheck was not given

    # -- recording checks: an observer on the library, registered once gradcheck is imported --
    def ensure_observer(self) -> None:
        module = sys.modules.get("gradcheck")
        if module is not None and self.observing is None and hasattr(module, "add_observer"):
            module.add_observer(self._observe)
            self.observing = module
            mode = self.settings.values.get("mode")
            if mode is not None and hasattr(module, "set_default_mode"):
                # direct library calls follow --gradcheck-mode too (the fixture passes it explicitly)
                self.previous_mode = module.set_default_mode(mode)

    def _observe(self, function: str, report) -> None:
        item = self.current_item
        if item is None or not (self.settings.enabled or self.fixture_calls):
            return  # without --gradcheck only the fixture's checks are recorded
        entry = {"test": item.nodeid, "function": function}
        entry.update(report.to_dict())
        item.stash.setdefault(CHECKS_KEY, []).append(entry)

    @contextlib.contextmanager
    def fixture_call(self):
        self.ensure_observer()
        self.fixture_calls += 1
        try:
            yield
        finally:
            self.fixture_calls -= 1

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.current_item = item
        try:
            return (yield)
        finally:
            self.current_item = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item) -> None:
        self.ensure_observer()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item) -> None:
        self.ensure_observer()

    def pytest_unconfigure(self, config) -> None:
        if self.observing is not None:
            self.observing.remove_observer(self._observe)
            if self.previous_mode is not None:
                self.observing.set_default_mode(self.previous_mode)
            self.observing = None

    def _header(self, state: str) -> str:
        s = self.settings
        extra = "".join(f", {k}={v}" for k, v in s.values.items() if k in ("mode", "oracle", "rtol", "atol"))
        return f"gradcheck: seed={s.seed}{extra}, {state}"

    def pytest_report_header(self, config: pytest.Config):
        """With --gradcheck (or the ini key) the header says so; otherwise nothing is printed here."""
        if self.settings.enabled:
            return [self._header("enabled")]
        return []

    def pytest_report_collectionfinish(self, config, start_path, items):
        """Without --gradcheck, a line only where the session has gradcheck-marked tests (they are skipped)."""
        if self.settings.enabled or not any(i.get_closest_marker("gradcheck") for i in items):
            return []
        return [self._header("marked tests skipped (use --gradcheck)")]

    @pytest.hookimpl(wrapper=True)
    def pytest_pycollect_makeitem(self, collector, name, obj):
        result = yield
        items = result if isinstance(result, list) else [result]
        for item in items:
            if isinstance(item, pytest.Function):
                try:
                    _options.marker_options(item)
                except ValueError as exc:
                    raise pytest.Collector.CollectError(f"{item.nodeid}: {exc}") from None
        return result

    def pytest_collection_modifyitems(self, items) -> None:
        if self.settings.enabled:
            return
        skip = pytest.mark.skip(reason=SKIP_REASON)
        for item in items:
            if item.get_closest_marker("gradcheck") is not None:
                item.add_marker(skip)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call):
        report = yield
        checks = item.stash.get(CHECKS_KEY, None)
        if checks:
            # a failed check is expected when the test accepted it: the test passed anyway (pytest.raises,
            # or it inspected a failed report) or it is marked xfail and failed as expected
            accepted = report.passed or hasattr(report, "wasxfail")
            setattr(report, REPORT_ATTR, [dict(c, expected_failure=accepted and not c.get("passed"))
                                          for c in checks])
            checks.clear()
        return report

    def pytest_runtest_logreport(self, report) -> None:
        self.checks.extend(getattr(report, REPORT_ATTR, None) or ())
        if report.skipped and not self.settings.enabled and _skipped_for_the_flag(report):
            self.skipped_marked += 1

    def pytest_sessionfinish(self, session) -> None:
        path = self.settings.values.get("report")
        if path and not _is_worker(self.config):
            try:
                _summary.write_json_atomically(path, _summary.report_document(self.checks, self.settings))
            except OSError as exc:
                self.report_error = f"gradcheck: could not write the report {path}: {exc.strerror or exc}"
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
                return
            self.report_written = path

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if _is_worker(self.config):
            return
        verbosity = self.config.get_verbosity()
        _summary.write_summary(terminalreporter, self.checks, self.settings.seed, verbosity < 0, verbosity > 0)
        if self.report_written and verbosity >= 0:
            terminalreporter.write_line(f"gradcheck report: {self.report_written}")
        if self.report_error:
            terminalreporter.write_line(self.report_error, red=True)
        if self.skipped_marked:   # also under xdist, where the collection-time header line does not show
            n = self.skipped_marked
            terminalreporter.write_line(f"gradcheck: {n} test{'s' if n > 1 else ''} marked gradcheck skipped "
                                        f"(run pytest with --gradcheck to run {'them' if n > 1 else 'it'})")


def _skipped_for_the_flag(report) -> bool:
    """A skip by our own marker gate (its reason is SKIP_REASON); longrepr is a list after xdist's transport."""
    longrepr = report.longrepr
    return isinstance(longrepr, (tuple, list)) and len(longrepr) == 3 and SKIP_REASON in str(longrepr[2])


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> GradcheckFixture:
    """The gradcheck library's functions with this session's settings and this test's marker as defaults.

    ``gradcheck.assert_grads_match(f, params, grads)``, ``grads_report``, ``assert_vjp_match``,
    ``vjp_report``, ``assert_jacobian_match``, ``jacobian_report``: explicit keyword arguments win over
    ``@pytest.mark.gradcheck(...)``, which wins over ``--gradcheck-*`` / ini settings. Every check is
    recorded for the gradcheck summary and ``--gradcheck-report``.
    """
    settings = request.config.stash[SETTINGS_KEY]
    session = request.config.pluginmanager.get_plugin(SESSION_NAME)
    return GradcheckFixture(settings.check_defaults(), _options.marker_options(request.node), session.fixture_call)


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest):
    """The student submission given by --gradcheck-submission=DIR, loaded in a sandboxed child process.

    Yields ``gradcheck.audit.remote.load_submission(DIR)``; its attributes are the submission's
    functions, run remotely.
    """
    directory = request.config.stash[SETTINGS_KEY].values.get("submission")
    if directory is None:
        pytest.skip("no submission to test: pass --gradcheck-submission=DIR "
                    "(or set gradcheck_submission in [tool.pytest.ini_options])")
    if not remote_available():
        pytest.skip("gradcheck.audit.remote is not available in this gradcheck installation")
    from gradcheck.audit.remote import load_submission

    with load_submission(directory) as loaded:
        yield loaded
