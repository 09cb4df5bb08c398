"""The attention visualizer: a FastAPI server that returns every attention matrix a model
computes (app.main), and a client for notebooks and scripts (app.client).

Importing this package changes nothing in the process: the server applies its settings of the
libraries it runs on as it starts (app/process_env.py).
"""
