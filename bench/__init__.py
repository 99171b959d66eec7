"""ddbridge's benchmark suite: every figure measured side by side with its baseline.

Run ``python -m bench`` (``--quick`` for a seconds-long run, ``--help`` for the parts). The
machines this runs on are shared and noisy, so absolute numbers drift between runs; the ratios
to a baseline measured in the same run, interleaved with it, are what the targets judge.
"""
