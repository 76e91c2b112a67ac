"""An example ganbench plugin: the ``wgan-lp`` variant and the ``sliced-wasserstein`` metric."""
