"""OCR on this machine, off the event loop: rapidocr-onnxruntime in a process pool.

``rapidocr-onnxruntime`` 1.4.x carries PP-OCRv4's Chinese detection and recognition models in
its wheel, so nothing is downloaded at run time (``rapidocr`` 3.x would fetch them: never use
it). Each worker process loads the models once and runs them on one thread, so two workers on
two cores never fight over them and the action server's event loop only awaits a future.

The package is optional: without it the rest of the bot imports and runs, ``available()`` is
False and ``read_image`` raises ``OcrUnavailable``.

    lines = await read_image(photo_bytes)       # list[OcrLine], boxes in the upright full picture
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from importlib.util import find_spec
from typing import Any

from bot.domain.receipts import OcrLine
from bot.infra.receipt_images import decode_image

# A 12 MP photo (4000 x 3000) is brought down to this long side before detection. Measured here
# on one thread: detection takes 0.6 s at 1280 and 1.0 s at 1600 (recognition, about 0.75 s for
# a slip's 25 lines, does not change), and a slip filling half the frame keeps its characters
# about 15 px high at 1280, which the recogniser reads.
MAX_SIDE = int(os.environ.get("WUSHUA_OCR_MAX_SIDE", "1280"))
# A slip's masked card number ("622202******1234") is a weak detection: at the default 0.5 the
# detector drops the whole line, and with it the last four digits.
BOX_THRESHOLD = 0.3
WORKERS = int(os.environ.get("WUSHUA_OCR_WORKERS", "1"))
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "ORT_NUM_THREADS")

_engine: Any = None


class OcrUnavailable(RuntimeError):
    """rapidocr-onnxruntime is not installed here."""


def available() -> bool:
    return find_spec("rapidocr_onnxruntime") is not None


def _start_worker() -> None:
    """Runs once in each worker: one thread for every numeric library, then load the models."""
    global _engine
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    import cv2
    from rapidocr_onnxruntime import RapidOCR

    cv2.setNumThreads(1)
    _engine = RapidOCR(
        intra_op_num_threads=1, inter_op_num_threads=1, max_side_len=MAX_SIDE, det_box_thresh=BOX_THRESHOLD
    )


def read_lines(data: bytes) -> list[OcrLine]:
    """OCR in the calling process (a worker, or a script); boxes in the full upright picture."""
    if _engine is None:
        _start_worker()
    import numpy as np

    image, scale = decode_image(data, MAX_SIDE)
    result, _ = _engine(np.asarray(image)[:, :, ::-1])  # RapidOCR takes OpenCV's BGR
    lines = []
    for box, text, score in result or []:
        corners = tuple((float(x) / scale, float(y) / scale) for x, y in box)
        lines.append(OcrLine(text, corners, float(score)))  # type: ignore[arg-type]
    return lines


@lru_cache(maxsize=1)
def _pool() -> ProcessPoolExecutor:
    # Spawned, not forked: the Rasa server runs TensorFlow's threads, and a fork copies
    # whatever lock one of them holds. A spawned worker imports this module and the OCR only.
    spawn = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=WORKERS, initializer=_start_worker, mp_context=spawn)


async def read_image(data: bytes) -> list[OcrLine]:
    """The OCR lines of a JPEG or PNG, read in a worker process; the event loop is never blocked.

    Raises ``OcrUnavailable`` without the OCR package and
    ``bot.infra.receipt_images.UnreadableImage`` for bytes that are no picture.
    """
    if not available():
        raise OcrUnavailable("rapidocr-onnxruntime is not installed")
    return await asyncio.get_running_loop().run_in_executor(_pool(), read_lines, data)


def shutdown() -> None:
    """Stop the workers (at server shutdown, and between tests)."""
    if _pool.cache_info().currsize:
        _pool().shutdown(cancel_futures=True)
        _pool.cache_clear()
