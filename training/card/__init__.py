"""The model card (models/<id>/README.md), written from the JSON files that training,
evaluation and alignment scoring leave in the model folder: render.py puts together the
sections of about.py, runs.py, results.py and alignment.py.

    python -m training.card models/transformer-zh-en
"""
