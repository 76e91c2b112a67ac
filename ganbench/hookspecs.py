"""Hook specifications: the whole plugin API of ganbench.

A plugin is a module or object with functions decorated by :data:`ganbench.hookimpl` whose
names match the hooks below. Built-in variants, datasets, metrics and architectures are
plugins of exactly this kind (see ``ganbench.plugins.DEFAULT_PLUGINS``); third-party
packages are found through the ``ganbench`` entry-point group::

    [project.entry-points.ganbench]
    my_plugin = "my_package.ganbench_plugin"

Every ``register_*`` hook receives a ``register`` callback. Call it once per class you
provide; ganbench checks the name, refuses a name that another plugin already registered
(naming both plugins) and remembers which plugin supplied what.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("ganbench")
hookimpl = pluggy.HookimplMarker("ganbench")


@hookspec
def register_variants(register: Callable[[type], None]) -> None:
    """Register GAN variants (training objectives).

    :param register: call ``register(VariantClass)`` for each subclass of
        :class:`ganbench.variants.Variant`. A variant states its objective only: the
        discriminator/critic loss, the generator loss, an optional penalty, an optional
        constraint applied after each critic step, ``n_critic`` and its optimiser defaults
        in a ``Params`` dataclass. The core training loop calls it; a variant never owns a
        loop. Every field of ``Params`` can be overridden with ``--set NAME.FIELD=VALUE``.
    """


@hookspec
def register_datasets(register: Callable[[type], None]) -> None:
    """Register data sets.

    :param register: call ``register(DatasetClass)`` for each subclass of
        :class:`ganbench.datasets.Dataset`. A data set declares its sample ``shape``,
        ``kind`` (``"vector"``, ``"image"`` or ``"two-domain"``), ``num_classes`` and
        ``default_batch_size`` (128 unless it sets another), and implements
        ``load(device=, seed=, data_root=, train=)``, returning a
        :class:`ganbench.datasets.DataSource` whose float32 samples are on ``device``.
        Images are scaled to [-1, 1] (the generators end in ``tanh``, the image metrics
        quantise from that range); vectors stay in the data set's own coordinates (the
        built-in toy mixtures reach about ±2.2 in 2-D and ±3.4 in 1-D). A data set named
        with an argument (``folder:PATH``) sets ``takes_argument`` and implements
        ``from_argument()``. The whole contract: docs/writing-plugins.md.
    """


@hookspec
def register_metrics(register: Callable[[type], None]) -> None:
    """Register evaluation metrics.

    :param register: call ``register(MetricClass)`` for each subclass of
        :class:`ganbench.metrics.Metric`. A metric states ``higher_is_better`` for each
        value it reports, what it ``requires`` (generated samples, real samples, the
        training history), which data sets it ``applies_to`` (a class method taking the
        data set class), whether ``--eval-every`` also computes it during training
        (``over_training``), and computes its values
        from a :class:`ganbench.metrics.EvaluationContext`. Tables and reports take
        everything about its values from what it declares: ``labels``, ``section``
        (stability or quality), the direction that marks the best variant,
        ``headline``, the values "What this sweep says" names the best variant by (with a
        caveat from ``notes``), and ``headline_priority``, which of the evaluated headline
        values the report's curve over training follows (the highest; built in: ``fid`` 20,
        ``domain-fid`` 10, others 0); a plugin's metric is shown and concluded on like a
        built-in.
    """


@hookspec
def register_architectures(register: Callable[[type], None]) -> None:
    """Register generator/discriminator architectures.

    :param register: call ``register(ArchitectureClass)`` for each subclass of
        :class:`ganbench.architectures.Architecture`. An architecture says how well it
        suits a data shape (the class method ``suitability(data_shape, data_kind)``: 0
        cannot, 1 only when named, 2 or more ``--arch auto`` may pick it, the highest
        wins), lists the ``critic_kinds`` it can build, and ``build(spec)`` returns
        ``(generator, critic)`` for a :class:`ganbench.architectures.ArchSpec`: G maps
        ``(N, latent_dim)`` noise to ``(N, *data_shape)``, the critic returns raw scores of
        shape ``(N,)`` and uses the variant's ``critic_norm``.
    """


@hookspec
def register_executors(register: Callable[[type], None]) -> None:
    """Register executors: what does the runs of a sweep (``ganbench run --executor NAME``).

    :param register: call ``register(ExecutorClass)`` for each subclass of
        :class:`ganbench.executors.Executor`. Its constructor takes
        :class:`ganbench.executors.ExecutorOptions`; ``open()`` and ``close()`` acquire and
        release resources (a cluster connection); ``run(tasks, catalog, progress)`` does each
        :class:`ganbench.tasks.RunTask` (typically with :func:`ganbench.runner.execute`) and
        yields a :class:`ganbench.tasks.RunRecord` per run as it completes. A run that raises
        or crashes must come back as a ``failed`` record (see
        :func:`ganbench.tasks.record_failure`), so that the sweep goes on. The constructor and
        ``open()`` raise :class:`ganbench.errors.UsageError` for a setting the user must change
        (exit 2); anything else they raise stops the command with one line naming the executor
        and its plugin (exit 1). ``ganbench search`` opens the executor once and calls ``run``
        once per wave of trials. Built in: ``local`` and ``ray``.
    """


@hookspec
def register_loggers(register: Callable[[type], None]) -> None:
    """Register loggers: where runs send what they record as they train (``--log NAME``).

    :param register: call ``register(LoggerClass)`` for each subclass of
        :class:`ganbench.loggers.Logger`. Each run of ``ganbench run --log NAME`` makes one
        instance and calls ``open(run_dir, config)``; ``log_scalars(step, values)`` with the
        losses of every step (after each read-back, every 50 steps), metrics over training
        and the final metrics; ``log_images(step, tag, image)`` with each sample grid;
        ``log_text(tag, text)`` with the configuration; ``close()`` at the end. A logger whose
        method raises is warned about once and dropped for that run, which goes on unchanged.
        ``check_available()`` may refuse, before the sweep starts, a logger whose package is
        missing. Built in: ``tensorboard``.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``ganbench`` command line.

    :param cli: the :class:`typer.Typer` application; decorate functions with
        ``@cli.command()`` to add sub-commands.
    """
