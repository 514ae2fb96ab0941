"""The embedded model: everything that runs a local llama.cpp server for the tool itself.

- ``models``: the models known by name (``registry``), their file in the user's cache
  (``assembly``), GGUF header metadata (``gguf``);
- ``embedded``: ``EmbeddedServer``, which starts the server as a child process on a free
  loopback port, waits for it, sizes its context, and stops it on every path;
- ``llama_server``: that child process's own script (xllamacpp), kept free of our imports so it
  starts fast;
- ``prefix_state``: the saved KV state of the system message, restored across runs.

Nothing here is imported by ``import summarizer``; the rest of the package reaches a model only
through ``llm`` and an endpoint's base URL.
"""
