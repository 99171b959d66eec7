"""Processes the bridge runs for a page: where they come from, and how their output flows.

One seam, ``RunningProcess`` (``read`` / ``wait`` / ``terminate``), is implemented by each
source — a local subprocess (host binaries, the docker CLI) and, with the Docker support, a
container exec — and feeds the same two consumers: ``collect`` for blocking execs and
``Stream`` for streaming ones.
"""
