"""moto 5.2.1 + the AWS behaviour lifecycle-manager's integration tests depend on.

One module per concept; `install()` applies every patch (idempotent). Import moto only
after MOTO_IAM_LOAD_MANAGED_POLICIES is set (moto_ext.py does it).
"""

from __future__ import annotations

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from . import (actions, elb_classic, elbv2_targets, hooks, launches, perf, scalein, server,
                   traffic, warm_pools)

    # warm_pools wraps what scalein patched, so it comes after it; launches wraps warm_pools
    for module in (hooks, actions, scalein, warm_pools, launches, traffic, elbv2_targets, elb_classic, server, perf):
        module.install()
    _installed = True
