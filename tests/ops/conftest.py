import pytest

from ops.maintenance import forget
from ops.status import forget_checks


@pytest.fixture(autouse=True)
def _fresh_ops_memos():
    # The maintenance switch and the status checks are memoised per process
    # for a few seconds; no test may see (or leave behind) another's state.
    forget()
    forget_checks()
    yield
    forget()
    forget_checks()
