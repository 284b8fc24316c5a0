import sys

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self):
        from jobs.services import storage

        storage.warm_up()  # the bucket's client, once per process (no request is sent)

        # `manage.py qcluster`: heartbeat and graceful stop (jobs/cluster.py).
        if any(arg.endswith("qcluster") for arg in sys.argv[1:2]):
            from jobs import cluster

            cluster.install()
