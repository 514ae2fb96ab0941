"""The embedded server's own process: llama.cpp's OpenAI-compatible server, run by xllamacpp.

    python -m summarizer.local.llama_server --model M.gguf --port P --ctx N --threads T --alias NAME \
        [--slots S] [--state-dir DIR]

``xllamacpp.Server`` loads the model and serves HTTP (``/v1/chat/completions``, ``/v1/models``,
``/health``, and with ``--state-dir`` the slot save/restore actions ``POST /slots/0?action=...``)
on 127.0.0.1:P from background threads; this process just waits until SIGTERM or
SIGINT and then shuts the server down. It also exits when its parent goes away, a second guard
beside the parent-death signal ``summarizer.local.embedded`` asks the kernel for.

Failures end with one line on stderr, ``llama_server: error: ...``, which the parent reports.
Kept free of other ``summarizer`` imports so that it starts fast.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

BATCH = 512  # tokens per prompt-processing step; a good fit for a few CPU cores
# llama.cpp's CPU threads meet at an OpenMP barrier after every operation. Spinning there long
# (libgomp's default, or OMP_WAIT_POLICY=ACTIVE) holds a core the peer thread needs when anything
# else wants the cores: generation slowed ten-fold (SmolLM2, 2 busy cores). Sleeping at once
# (PASSIVE) pays a wake-up at every barrier: the default 1.5B model decoded 7.6 tokens/s where
# a short spin gives 10.4-10.9 on idle cores. A spin of 2,000 rounds, then sleep, keeps both
# (seed prompt, 2 idle cores: prompt 59 tokens/s, answer 10.4-10.9/s against PASSIVE's 47 and
# 7.6; with a busy loop on one core: 5.0/s against PASSIVE 5.6, ACTIVE 3.8-4.1, 30,000 rounds
# 2.3). An OMP_WAIT_POLICY or GOMP_SPINCOUNT set by the user wins.
OMP_SPIN = ("GOMP_SPINCOUNT", "2000")
PROMPT_CACHE_MIB = 1024  # host RAM for saved prompt KV states (llama.cpp's default is 8 GiB)
STOP_GRACE_S = 3.0  # seconds a stopping server may spend finishing an answer nobody awaits
WARNINGS = 2  # llama.cpp log verbosity: errors and warnings, no per-request lines


def build_params(args: argparse.Namespace) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    # One slot by default: one request at a time keeps its KV cache warm. With S slots llama.cpp
    # decodes S answers in one batch (continuous batching): on a CPU one token of each costs
    # little more than one token of one, so a batch's articles per hour rise. Each slot gets the
    # whole window (a KV cache of ctx x S tokens, not shared), so no article is cut for it.
    params.n_parallel = args.slots
    params.kv_unified = False
    params.n_ctx = args.ctx * args.slots
    params.cont_batching = True
    params.cache_prompt = True  # reuse the KV cache of the prefix shared with the last request
    params.cache_ram_mib = PROMPT_CACHE_MIB
    params.ctx_shift = False  # an overlong prompt is an error, never silently cut
    params.n_batch = BATCH
    params.n_ubatch = BATCH
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    if args.state_dir:  # llama.cpp joins this and the file name as strings
        params.slot_save_path = os.path.join(args.state_dir, "")
    params.use_jinja = True  # the chat template comes from the GGUF's metadata
    params.ui = False
    params.verbosity = WARNINGS
    return params


def _watch_parent(parent: int, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        if os.getppid() != parent:
            os._exit(0)  # orphaned: no one will read an answer; never finish one first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llama_server", description=__doc__)
    parser.add_argument("--model", required=True, help="GGUF file")
    parser.add_argument("--port", type=int, required=True, help="loopback port to listen on")
    parser.add_argument("--ctx", type=int, required=True, help="context window in tokens")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--alias", default="local-model", help="model name the server answers to")
    parser.add_argument("--slots", type=int, default=1, help="answers decoded side by side")
    parser.add_argument("--state-dir", help="folder for saved prompt KV states (slot save/restore)")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    parent = os.getppid()
    if "OMP_WAIT_POLICY" not in os.environ:  # read by libgomp when xllamacpp loads it
        os.environ.setdefault(*OMP_SPIN)
    try:
        import xllamacpp

        server = xllamacpp.Server(build_params(args))
    except ImportError:
        print("llama_server: error: xllamacpp is not installed", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"llama_server: error: {exc}", file=sys.stderr)
        return 1
    if stop.is_set():  # told to stop while the model was loading
        del server
        return 0
    print(f"llama_server: serving {args.alias} on {server.listening_address}", file=sys.stderr, flush=True)
    threading.Thread(target=_watch_parent, args=(parent, stop), daemon=True).start()
    stop.wait()
    # Joining the HTTP and inference threads waits for an answer in flight (tens of seconds on
    # a CPU); nobody will read it once we are told to stop, so never wait long for it.
    deadline = threading.Timer(STOP_GRACE_S, os._exit, args=(0,))
    deadline.daemon = True
    deadline.start()
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
