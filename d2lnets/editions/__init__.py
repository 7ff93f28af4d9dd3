"""The later MXNet editions' calls (d2l-zh v2 / d2l-en 0.17 and d2l-en 1.0),
made over d2lnets: :mod:`d2lnets.mxnet` gathers them under d2l's names.

- ``live``: the books' live figures (``Animator``, ``ProgressBoard``);
- ``ch6``: ``train_ch6`` and the helpers it calls;
- ``classes``: the 1.0 edition's ``Module`` / ``Classifier`` / ``Trainer``;
- ``data``: ``load_data_fashion_mnist`` and ``FashionMNIST`` on d2lnets' data.
"""
