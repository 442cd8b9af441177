"""moto server plus the Auto Scaling lifecycle-hook / load-balancer behaviour moto 5.2.1 lacks.

Usage:  PY test/aws/moto_ext.py [-H 127.0.0.1] [-p 0] [-v]
        (PY from scripts/moto-env.sh; -p 0 picks a free port)
Prints exactly one line on stdout once serving:  READY http://127.0.0.1:PORT
SIGTERM / SIGINT stop it (exit 0, within ~2 s). Loopback addresses only.

Inspection endpoint for tests (not an AWS API):
    GET  /_lifecycle/actions  ->  {"actions": [{instanceId, autoScalingGroupName,
         lifecycleHookName, token, startedAt, heartbeats, lastHeartbeatAt,
         result: null|"CONTINUE"|"ABANDON", resultSource: null|"complete"|"expired"
         (also "skipped", "hook-deleted", "group-deleted", "pool-deleted"), completedAt,
         completeCalls, rejectedCompleteCalls, lifecycleState, origin, destination, ...}]}
         -- every action since the last reset, ended ones too.
    POST /moto-api/reset      ->  moto's reset; also forgets every lifecycle action.

What is added (details in test/aws/README.md and each motoext/*.py docstring):
    motoext/hooks.py          PutLifecycleHook keeps target/role/metadata, TEST_NOTIFICATION
    motoext/actions.py        Complete/RecordLifecycleActionHeartbeat, expiry, inspection
    motoext/scalein.py        Terminating:Wait on terminate and on scale-in, hook messages
    motoext/warm_pools.py     warm-pool instances, Warmed:Pending:Wait / Warmed:Terminating:Wait
    motoext/traffic.py        Describe/Attach/DetachTrafficSources
    motoext/elbv2_targets.py  targets keyed by (Id, Port), draining, ip targets
    motoext/elb_classic.py    Register/DeregisterInstances reply shape
    motoext/server.py         WSGI wrapper, reset hook, serve loop
It patches moto internals: keep moto pinned at 5.2.1 (scripts/moto-env.sh).
"""

import argparse
import os
import sys

# AWS-managed IAM policies (e.g. service-role/AutoScalingNotificationAccessRole) exist in
# moto only with this set; it must be in place before moto is imported.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import motoext  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("-p", "--port", type=int, default=0, help="port (0 = any free port)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)

    motoext.install()
    from motoext.server import loopback, serve

    if not loopback(args.host):
        parser.error(f"refusing to bind {args.host!r}: loopback addresses only")
    serve(args.host, args.port, verbose=args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
