"""The attention visualizer's server, and two settings of the libraries it runs on that must
be in place before they load. A value already in the environment wins over each.

GNU OpenMP (PyTorch's thread pool here) lets a worker thread spin for GOMP_SPINCOUNT
iterations after each parallel region before it sleeps: by default 300,000, several
milliseconds on this machine. In the server that core is wanted right after a model run, by
the event loop answering the batch just run and reading the next. 10,000 iterations (about
a quarter of a millisecond) still cover the gaps between the regions of one forward pass:
on 2 cores, with PyTorch's default (MKL) linear layers, 16 clients got about 15% more
requests a second, and a lone request was as fast; with oneDNN's (app/zoo/onednn.py) it made
no measurable difference either way (README, "Benchmark"). Set here, before anything imports
torch, so that every way of starting the server has it.

Hugging Face tokenizers hand even a single text to a pool of worker threads (Rayon) unless
TOKENIZERS_PARALLELISM is false. A request's text is one short string: alone, a worker
makes reading a 25-token text take 107 µs of CPU instead of 60, and under load the request
waits until a core, busy with a model run, lets the worker in.
"""

import os

os.environ.setdefault("GOMP_SPINCOUNT", "10000")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
