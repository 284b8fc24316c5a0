"""`manage.py qcluster` with a heartbeat and a graceful stop.

django-q2's cluster is a main process, a sentinel (guard loop), a pusher, a
monitor and a pool of workers. Installed by JobsConfig.ready() (`install()`),
this module changes three things:

* Heartbeat: the sentinel writes the cluster's WorkerHeartbeat row every
  AIPROD_WORKER_HEARTBEAT_SECONDS with its worker pids, re-queues at once the
  jobs of a worker process that died under it, and recovers the jobs of other
  clusters that stopped beating (jobs.services.workers).
* SIGTERM (to the main process, the sentinel, or the whole process group, as
  systemd, Docker, Kubernetes and `timeout` send it) and SIGINT: every
  process of the cluster marks itself stopping (jobs.shutdown); the sentinel
  stops the pusher, the workers hand back the tasks they have not started,
  finish running jobs within AIPROD_WORKER_GRACE_SECONDS, re-queue the rest
  and exit; the main process exits once the sentinel is gone. Before this a
  group SIGTERM killed the sentinel outright and left the main process
  waiting, and the processing children died with SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time

from django import db
from django.conf import settings

logger = logging.getLogger(__name__)

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    from django_q import cluster as q_cluster

    q_cluster.Sentinel = _sentinel_class(q_cluster.Sentinel)
    q_cluster.Cluster.sig_handler = _cluster_sig_handler
    original_start = q_cluster.Cluster.start

    def start(self):
        pid = original_start(self)
        _start_delivery_sentinel(self, q_cluster)
        _serve_metrics()
        return pid

    q_cluster.Cluster.start = start


def _start_delivery_sentinel(cluster, q_cluster) -> None:
    """Webhook deliveries have their own queue (AIPROD_WEBHOOK_Q_CLUSTER) and,
    in the same `qcluster`, their own sentinel and AIPROD_WEBHOOK_WORKERS
    workers: a delivery never waits behind processing. 0 workers = run
    `Q_CLUSTER_NAME=<queue> manage.py qcluster` separately instead."""
    import multiprocessing
    import uuid

    from django_q.brokers import get_broker
    from django_q.conf import Conf

    queue = settings.AIPROD_WEBHOOK_Q_CLUSTER
    if not queue or queue == Conf.CLUSTER_NAME or settings.AIPROD_WEBHOOK_WORKERS <= 0 or Conf.SYNC:
        return
    if cluster.start_event is None or not cluster.start_event.is_set():
        return  # stopped while starting
    target = type("DeliverySentinel", (q_cluster.Sentinel,), {"POOL_SIZE": settings.AIPROD_WEBHOOK_WORKERS,
                                                               "RUNS_SCHEDULER": False})
    db.connections.close_all()
    process = q_cluster.get_mp_context().Process(
        target=target, name=f"Process-{uuid.uuid4().hex}",
        args=(multiprocessing.Event(), multiprocessing.Event(), uuid.uuid4(), get_broker(queue), cluster.timeout),
    )
    process.start()
    cluster.delivery_sentinel = process


def _serve_metrics() -> None:
    """AIPROD_WORKER_METRICS_PORT set: the main process (after forking the
    sentinels, so none inherits the socket) serves this host's aggregated
    metrics for Prometheus; a busy port is logged, never fatal to the worker."""
    from django_q.conf import Conf

    port = settings.AIPROD_WORKER_METRICS_PORT
    if not port or Conf.SYNC:
        return
    from core import metrics

    try:
        metrics.serve_on_port(port, settings.AIPROD_WORKER_METRICS_BIND)
    except OSError as error:
        logger.error("worker metrics: cannot listen on %s:%s: %s", settings.AIPROD_WORKER_METRICS_BIND, port, error)


# --------------------------------------------------------------------------- main process


def _cluster_sig_handler(self, signum, frame):
    """Main process: pass the stop on to the sentinel, wait for it (grace +
    a margin), then leave; never hang in multiprocessing's exit join."""
    from jobs import shutdown

    if shutdown.requested():
        return  # already stopping (the group's signal and a forwarded one)
    shutdown.request()
    sentinels = [p for p in (getattr(self, "sentinel", None), getattr(self, "delivery_sentinel", None))
                 if p is not None and p.pid]
    for sentinel in sentinels:
        _signal(sentinel.pid, signal.SIGTERM)
    give_up = time.monotonic() + settings.AIPROD_WORKER_GRACE_SECONDS + 10
    for sentinel in sentinels:
        sentinel.join(max(0.1, give_up - time.monotonic()))
    if any(s.is_alive() for s in sentinels):
        logger.error("sentinel did not stop within the grace period: killing the cluster")
        _kill_children()
    os._exit(0)


def _kill_children(pid: int | None = None) -> None:
    """SIGKILLs the process tree under `pid` (this process), Linux /proc."""
    pid = pid or os.getpid()
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        return
    for child in children:
        _kill_children(child)
        _signal(child, signal.SIGKILL)


# --------------------------------------------------------------------------- sentinel


def _sentinel_class(base):
    from django_q.conf import Conf

    class HeartbeatSentinel(base):
        """The django-q2 sentinel plus heartbeat, worker-death recovery and a
        bounded graceful stop."""

        POOL_SIZE: int | None = None  # None: Q_CLUSTER workers
        RUNS_SCHEDULER = True

        def start(self):
            if self.POOL_SIZE and self.POOL_SIZE != self.pool_size:
                from django_q.queues import Queue

                # Q_CLUSTER's queue_limit is sized for the job workers (workers²):
                # size the task buffer for this pool, or its workers wait on the pusher.
                self.pool_size = self.POOL_SIZE
                self.task_queue = Queue(maxsize=self.pool_size ** 2)
            self._host = socket.gethostname()
            self._term = False
            self._dead_pids: list[int] = []
            self._next_beat = 0.0
            sentinel_pid = os.getpid()

            def on_term(signum, frame):
                from jobs import shutdown

                shutdown.request()  # in whichever process of the cluster got it
                if os.getpid() == sentinel_pid:
                    self._term = True

            # Inherited by the pusher, monitor and workers forked from here.
            signal.signal(signal.SIGTERM, on_term)
            signal.signal(signal.SIGINT, on_term)
            super().start()

        # The guard loop of django_q.cluster.Sentinel.guard, plus the heartbeat
        # and the stop flag set by the signal handler.
        def guard(self):
            from django_q.scheduler import scheduler
            from django_q.status import Stat

            self.start_event.set()
            Stat(self).save()
            logger.info("Q Cluster %s running (heartbeat on).", self.cluster_id)
            counter = 0
            cycle = Conf.GUARD_CYCLE
            while True:
                for p in list(self.pool):
                    with p.timer.get_lock():
                        if not p.is_alive() or p.timer.value == 0:
                            if not p.is_alive() and p.timer.value != -2:
                                self._dead_pids.append(p.pid)
                            self.reincarnate(p)
                            continue
                        if p.timer.value > 0:
                            p.timer.value -= cycle
                if not self.monitor.is_alive():
                    self.reincarnate(self.monitor)
                if not self.pusher.is_alive():
                    self.reincarnate(self.pusher)
                counter += cycle
                if counter >= 30 and Conf.SCHEDULER and self.RUNS_SCHEDULER:
                    counter = 0
                    scheduler(broker=self.broker)
                self._beat()
                Stat(self).save()
                if self._term:
                    self.stop_event.set()
                if self.stop_event.wait(cycle):
                    break
            self.stop()

        def _beat(self, *, force: bool = False, stopping: bool = False) -> None:
            from jobs.services import workers

            now = time.monotonic()
            if not force and now < self._next_beat:
                return
            self._next_beat = now + settings.AIPROD_WORKER_HEARTBEAT_SECONDS
            try:
                workers.beat(str(self.cluster_id), queue=self.queue_name(), host=self._host, pid=self.pid,
                             worker_pids=[p.pid for p in self.pool if p.pid], stopping=stopping)
                if self._dead_pids:
                    dead, self._dead_pids = self._dead_pids, []
                    workers.requeue_jobs_of_workers(self._host, dead)
                if not stopping:
                    workers.recover_dead_clusters()
            except db.Error:
                logger.warning("worker heartbeat not recorded (database unavailable)", exc_info=True)
                db.close_old_connections()
            except Exception:  # noqa: BLE001 - the guard loop must go on
                logger.exception("worker heartbeat failed")

        def stop(self):
            """django-q2's stop, bounded: workers get the grace period (they
            hand back what they cannot finish), then whatever is left is killed."""
            from django_q.status import Stat

            from jobs import shutdown
            from jobs.services import workers

            shutdown.request()
            self._beat(force=True, stopping=True)
            Stat(self).save()
            self.event_out.set()
            give_up = time.monotonic() + settings.AIPROD_WORKER_GRACE_SECONDS + 5
            while self.pusher.is_alive() and time.monotonic() < give_up:
                time.sleep(0.1)
            for p in self.pool:  # each worker marks itself stopping
                _signal(p.pid, signal.SIGTERM)
            for __ in range(len(self.pool)):
                self.task_queue.put("STOP")
            self.task_queue.close()
            self.task_queue.join_thread()
            while self.pool and time.monotonic() < give_up:
                self.pool = [p for p in self.pool if p.is_alive()]
                time.sleep(0.1)
            for p in self.pool:
                logger.error("worker %s still running after the grace period: killed", p.pid)
                _signal(p.pid, signal.SIGKILL)
            if self.pool:
                # Their jobs go back to the queue now, not after a heartbeat timeout.
                try:
                    workers.requeue_jobs_of_workers(self._host, [p.pid for p in self.pool])
                except Exception:  # noqa: BLE001
                    logger.exception("could not re-queue the jobs of killed workers")
            self.result_queue.put("STOP")
            self.result_queue.close()
            self.result_queue.join_thread()
            monitor_until = time.monotonic() + 10
            while self.monitor.is_alive() and time.monotonic() < monitor_until:
                time.sleep(0.1)
            if self.pusher.is_alive():
                _signal(self.pusher.pid, signal.SIGKILL)
            if self.monitor.is_alive():
                _signal(self.monitor.pid, signal.SIGKILL)
            try:
                workers.remove(str(self.cluster_id))
            except Exception:  # noqa: BLE001
                logger.exception("could not remove the worker heartbeat row")
            Stat(self).save()

    HeartbeatSentinel.__name__ = "HeartbeatSentinel"
    return HeartbeatSentinel


def _signal(pid: int | None, sig: int) -> None:
    if pid:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
