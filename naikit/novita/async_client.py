"""The async Novita.ai client, :class:`AsyncNovita`: the core that the blocking :class:`~.client.Novita`
drives (same methods, awaited).

The API key comes from the constructor or ``NOVITA_API_KEY``; with neither, the client uses naikit's
embedded offline sandbox with its demo key (announced once, in one line). The base URL comes from
``base_url=``, else ``NOVITA_BASE_URL`` (or ``NOVITA_API_URI``, what Novita's own examples read), else
``https://api.novita.ai``. The key is held by the transport and never appears in a repr, log line or
exception.

Generation methods submit a v3 async task and, with ``wait=True`` (the default), poll it with a
time-based timeout and a growing interval, then download the results (with retries) so ``.images``
gives PIL images. ``wait=False`` returns the :class:`~naikit.novita.tasks.Task` at once. Every submitted
task id is also appended to ``client.task_ids``; errors raised while waiting carry ``task_id``.
"""

from __future__ import annotations

from ._base import DEFAULT_BASE_URL
from ._case import CaseArea, EditedImage
from ._catalogue import CatalogueArea
from ._generation import GenerationArea
from ._lora_training import TrainingArea

__all__ = ["AsyncNovita", "EditedImage", "DEFAULT_BASE_URL"]


class AsyncNovita(GenerationArea, CaseArea, TrainingArea, CatalogueArea):
    """Async client for Novita.ai's v3 image, video, training, model and account APIs.

    ``api_key``: a Novita key (else ``NOVITA_API_KEY``, else the sandbox). ``sandbox``: None = automatic,
    True = always the embedded sandbox, False = never. ``validate`` checks response shapes.
    """
