"""audio.transcribe: offline English speech-to-text with pocketsphinx.

The first audio track (of an audio file, or of a video) is decoded with
PyAV, resampled to 16 kHz mono s16, and streamed through pocketsphinx's
voice-activity endpointer; each stretch of speech is decoded with its
bundled default US-English model (nothing is downloaded). Memory stays flat
whatever the length.

Output: ``text`` (segments joined by spaces), ``words`` ([{word, start, end,
confidence}], times in seconds), ``segments`` ([{start, end, text}]),
``duration``, ``language`` ("en-us") and a ``warning`` when no speech was
found. The text file has one segment per line. Very long recordings list at
most ``MAX_WORDS`` words in the JSON (``words_truncated`` says so); the text
is always complete.

pocketsphinx is small and fast, not accurate: expect a rough transcript.
"""

from __future__ import annotations

import itertools
import re

from jobs.processing_errors import UNSUPPORTED_INPUT, ProcessingError
from jobs.processors.base import Input, Output, Processor, Progress, guard
from jobs.processors.media import check_complete, decode_frames, media_duration, open_media
from jobs.processors.params import ParamsSerializer


class AudioTranscribeParams(ParamsSerializer):
    """audio.transcribe takes no params."""


SAMPLE_RATE = 16_000
FRAMES_PER_SECOND = 100  # pocketsphinx's default feature frame rate
MAX_WORDS = 20_000
MAX_SEGMENTS = 5_000
NO_SPEECH_WARNING = "No speech was detected in the audio"

_ALT_PRONUNCIATION = re.compile(r"\(\d+\)$")


def run(source: Input, params: dict, progress: Progress) -> Output:
    container = open_media(source.path)
    with container, guard("this recording"):
        if not container.streams.audio:
            raise ProcessingError(UNSUPPORTED_INPUT, "Unsupported input: the file has no audio track")
        stream = container.streams.audio[0]
        duration = media_duration(container, stream)
        transcriber = _Transcriber()
        for seconds_done in _pcm_chunks(container, stream, transcriber.feed):
            if duration:
                progress(95 * seconds_done / duration)
        check_complete(container, transcriber.seconds_fed, duration)
        transcriber.finish()
    segments, words = transcriber.segments, transcriber.words

    text = " ".join(s["text"] for s in segments if s["text"])
    path = source.output_path("transcript.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(s["text"] for s in segments if s["text"]) + "\n")
    return Output(
        {
            "text": text,
            "words": words[:MAX_WORDS],
            "words_truncated": len(words) > MAX_WORDS,
            "segments": segments[:MAX_SEGMENTS],
            "duration": round(duration if duration else transcriber.seconds_fed, 3),
            "language": "en-us",
            "warning": None if words else NO_SPEECH_WARNING,
        },
        file=path,
        content_type="text/plain; charset=utf-8",
    )


def _pcm_chunks(container, stream, feed):
    """Decode ``stream`` to 16 kHz mono s16 and pass the bytes to ``feed``.

    Yields the seconds of audio fed so far, after every decoded frame.
    """
    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    fed = 0
    # A final None flushes the resampler.
    for frame in itertools.chain(decode_frames(container, [stream]), [None]):
        for out in resampler.resample(frame):
            # planes[0] may be padded past the samples: slice to the real length.
            feed(bytes(out.planes[0])[: out.samples * 2])
            fed += out.samples
        yield fed / SAMPLE_RATE


class _Transcriber:
    """Voice-activity endpointing plus per-utterance decoding, fed with raw PCM."""

    def __init__(self):
        from pocketsphinx import Endpointer

        self.endpointer = Endpointer(sample_rate=SAMPLE_RATE)
        self._decoder = None
        self.frame_bytes = self.endpointer.frame_bytes
        self.buffer = bytearray()
        self.in_utterance = False
        self.segments: list[dict] = []
        self.words: list[dict] = []
        self.bytes_fed = 0

    @property
    def decoder(self):
        # Loading the model takes ~0.5 s: only pay for it once there is speech.
        if self._decoder is None:
            from pocketsphinx import Decoder

            self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        return self._decoder

    @property
    def seconds_fed(self) -> float:
        return self.bytes_fed / 2 / SAMPLE_RATE

    def feed(self, pcm: bytes) -> None:
        self.buffer += pcm
        self.bytes_fed += len(pcm)
        n = self.frame_bytes
        usable = len(self.buffer) - len(self.buffer) % n
        for offset in range(0, usable, n):
            was_in_speech = self.endpointer.in_speech
            speech = self.endpointer.process(bytes(self.buffer[offset:offset + n]))
            self._handle(speech, was_in_speech)
        del self.buffer[:usable]

    def finish(self) -> None:
        was_in_speech = self.endpointer.in_speech
        # end_stream() flushes the speech still buffered; it needs at least one sample.
        speech = self.endpointer.end_stream(bytes(self.buffer) or b"\x00\x00")
        self.buffer.clear()
        self._handle(speech, was_in_speech)
        if self.in_utterance:  # the stream ended mid-speech
            self._end_utterance()

    def _handle(self, speech: bytes | None, was_in_speech: bool) -> None:
        if speech is None:
            return
        if not was_in_speech or not self.in_utterance:
            self.decoder.start_utt()
            self.in_utterance = True
        self.decoder.process_raw(speech, False, False)
        if not self.endpointer.in_speech:
            self._end_utterance()

    def _end_utterance(self) -> None:
        self.decoder.end_utt()
        self.in_utterance = False
        start, end = float(self.endpointer.speech_start), float(self.endpointer.speech_end)
        words = []
        for seg in self.decoder.seg():
            word = seg.word
            if not word or word[0] in "<[+" or word.endswith("+"):
                continue  # <s>, </s>, <sil>, [NOISE], ++FILLER++
            words.append({
                "word": _ALT_PRONUNCIATION.sub("", word),
                "start": round(start + seg.start_frame / FRAMES_PER_SECOND, 2),
                "end": round(start + (seg.end_frame + 1) / FRAMES_PER_SECOND, 2),
                "confidence": round(min(1.0, max(0.0, float(seg.prob))), 3),
            })
        if not words:
            return  # noise or music the endpointer took for speech
        self.words.extend(words)
        self.segments.append({
            "start": round(start, 2),
            "end": round(end, 2),
            "text": " ".join(w["word"] for w in words),
        })


PROCESSOR = Processor(
    type="audio.transcribe",
    input_kinds={"audio", "video"},
    timeout_class="medium",
    params=AudioTranscribeParams,
    run=run,
)
