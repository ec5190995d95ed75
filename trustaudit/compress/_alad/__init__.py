"""AlAd, the alignment adapter: map a small model's token states onto a large model's, then
train a task head over them.

For each token ``t`` of the small model's last hidden states (width ``d_s``), the vectors of
the ``K`` tokens centred on ``t`` (zeros beyond the sequence edges and at padding) are
concatenated to ``K * d_s`` and sent through ``Linear(K * d_s, h) -> GELU -> Linear(h, d_t)``,
``d_t`` being the large model's width; the paper uses ``K`` in {1, 3, 5} and ``h = 1280``.
The adapter is trained with a masked mean squared error against the large model's last
hidden states on the same tokens, first on general text when some is given, then on the
task's text (labels unused); the two models must therefore share one tokenizer.

Set-ups (the paper's three, each training a task head on the labelled rows; the head starts
as a copy of the large model's own head -- BERT: pooler + classifier, DistilBERT:
pre_classifier + classifier):

- ``head``: the head only, over the frozen small encoder and the frozen aligned adapter;
- ``adapter``: adapter and head, over the frozen small encoder (the default);
- ``joint``: adapter, small encoder and head together;
- ``reuse-head`` (trustaudit's own, not the paper's): the large model's head as it is, on the
  aligned states, no task training.

A share of the labelled rows (``validation``) is held out of alignment and training: after
each task epoch the aligned model is scored on it and the best epoch's weights are kept, and
the small model's own accuracy on the same rows is recorded beside it.
"""

from trustaudit.compress._alad.model import PAPER_HIDDEN, SETUPS, AlignedModel, ClassificationHead, WindowAdapter, window_stack
from trustaudit.compress._alad.train import MAX_VALIDATION_ROWS, TASK_LR, AlAdInfo, alad, read_texts

__all__ = [
    "MAX_VALIDATION_ROWS",
    "PAPER_HIDDEN",
    "SETUPS",
    "TASK_LR",
    "AlAdInfo",
    "AlignedModel",
    "ClassificationHead",
    "WindowAdapter",
    "alad",
    "read_texts",
    "window_stack",
]
