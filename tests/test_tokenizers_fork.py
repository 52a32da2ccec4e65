"""A process that forks after a batch on the HF tokenizers (gpt2, llama3) stays quiet and correct.

``encode_many``/``count_many`` run HF ``tokenizers`` on its thread pool. Up to tokenizers 0.22.1 a
fork after that printed "The current process just got forked, after parallelism has already been
used..." in the child (multiprocessing with fork, Jupyter helpers); from 0.22.2 the library handles
the fork silently, which is why pyproject.toml asks for tokenizers >= 0.22.2. The child runs in a
subprocess so that anything the library writes to the file descriptors is seen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, sys
import naikit.tokenizers as nt
texts = [f"word{k} and some words, {k} more" for k in range(3000)]
parent = nt.count_many(texts, sys.argv[1])
pid = os.fork()
if pid == 0:
    ok = nt.count_many(texts, sys.argv[1]) == parent and nt.encode_many(texts[:5], sys.argv[1]) == [
        nt.encode(t, sys.argv[1]) for t in texts[:5]]
    print("child", ok, flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("parent", os.waitstatus_to_exitcode(status), flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("tokenizer", ["llama3", "gpt2"])
def test_fork_after_a_batch_prints_nothing(tokenizer):
    env = {k: v for k, v in os.environ.items() if k != "TOKENIZERS_PARALLELISM"}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-c", CHILD, tokenizer]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=True)
    assert out.stdout.splitlines() == ["child True", "parent 0"]
    assert "forked" not in out.stderr and "TOKENIZERS_PARALLELISM" not in out.stderr
