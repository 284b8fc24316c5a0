"""A stored file written while its bytes arrive (POST /jobs/stream, direct uploads)."""

from __future__ import annotations

import logging
import os

from jobs.services import storage

logger = logging.getLogger(__name__)


class UploadWriter:
    """A stored file written as its bytes arrive, also kept in a private
    scratch file (`path`) for sniffing. Local storage: the scratch file is
    moved into place on commit(). Bucket: a multipart upload, one storage.PART_SIZE
    part at a time while the bytes arrive; commit() completes it, abort()
    (or a failed commit) leaves nothing behind."""

    def __init__(self, name: str, work_dir: str, *, content_type: str = "", filename: str = ""):
        self.name = name
        self.path = os.path.join(work_dir, "upload")
        self._file = open(self.path, "wb")
        self._remote = storage.is_remote()
        self._part_start = 0  # offset in the scratch file of the bytes not yet sent
        self._pending = 0
        self._parts: list[dict] = []
        self._upload_id = None
        if self._remote:
            self._client, self._bucket, key = storage.s3_client()
            self._key = key(name)
            try:
                self._upload_id = self._client.create_multipart_upload(
                    Bucket=self._bucket, Key=self._key, ContentType=content_type or "application/octet-stream",
                    ContentDisposition=storage.content_disposition(filename or os.path.basename(name)),
                )["UploadId"]
            except storage.s3_errors():
                self._file.close()
                raise storage.StorageUnavailable("start the upload to the object store") from None

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        if self._remote:
            self._pending += len(chunk)
            if self._pending >= storage.PART_SIZE:
                self._send_part()

    def _send_part(self) -> None:
        # Read back from the scratch file: one part in memory, no second copy.
        self._file.flush()
        with open(self.path, "rb") as f:
            f.seek(self._part_start)
            body = f.read(self._pending)
        self._part_start += self._pending
        self._pending = 0
        number = len(self._parts) + 1
        try:
            answer = self._client.upload_part(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=body
            )
        except storage.s3_errors():
            logger.warning("upload part %s of %s failed", number, self.name, exc_info=True)
            raise storage.StorageUnavailable("write the upload to the object store") from None
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def finish_local(self) -> None:
        """Flushes the scratch file (call before sniffing `path`)."""
        self._file.flush()

    def commit(self, local_name: str | None = None) -> str:
        """The stored name: `local_name` (default the initial name) for local
        storage, the initial name for a bucket."""
        if not self._remote:
            self._file.close()
            return storage.save_local_file(local_name or self.name, self.path)
        if self._pending or not self._parts:
            self._send_part()
        self._file.close()
        try:
            self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )
        except storage.s3_errors():
            raise storage.StorageUnavailable("finish the upload to the object store") from None
        self._upload_id = None
        return self.name

    def abort(self) -> None:
        self._file.close()
        if self._remote and self._upload_id:
            try:
                self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            except storage.s3_errors():
                logger.warning("could not abort the upload of %s", self.name, exc_info=True)
            self._upload_id = None
