"""Training, evaluation, model cards and alignment priors for the project's own zh->en
translators (app/seq2seq). Not part of the server: install it with the `train` extra,
`pip install -e '.[train]'`, then for example

    python -m training.train --model transformer --tatoeba /path/to/cmn-eng.tsv \\
        --out /tmp/transformer-zh-en

Each model card (models/<id>/README.md) gives the exact command that trained it.
"""
