from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self):
        from jobs.services import storage

        storage.warm_up()  # the bucket's client, once per process (no request is sent)
