"""What the object-storage tests share: the bucket as the test sees it, and
running a job in the test's own process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobs import tasks
from jobs.models import Job

PREFIX = "tenant-a"


@dataclass
class Bucket:
    client: object
    name: str
    endpoint: str

    def keys(self) -> list[str]:
        answer = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in answer.get("Contents", []))

    def head(self, name: str) -> dict:
        return self.client.head_object(Bucket=self.name, Key=f"{PREFIX}/{name}")


def run(job_id: str) -> Job:
    tasks.run_job(job_id)
    return Job.objects.get(pk=job_id)


def nothing_on_disk(settings) -> bool:
    return not (Path(settings.MEDIA_ROOT) / "jobs").exists()
