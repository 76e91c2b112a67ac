"""The ``tensorboard`` logger: TensorBoard event files in each run's ``tensorboard/`` folder.

``ganbench run --log tensorboard``, then ``tensorboard --logdir results/SWEEP``. It writes with
``torch.utils.tensorboard.SummaryWriter``, which needs the ``tensorboard`` package:
``pip install "ganbench[tensorboard]"``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ganbench.errors import UsageError
from ganbench.hookspecs import hookimpl
from ganbench.loggers import Logger

if TYPE_CHECKING:
    from torch import Tensor

FOLDER = "tensorboard"  # inside the run folder
INSTALL_HINT = 'pip install "ganbench[tensorboard]"'


class TensorBoardLogger(Logger):
    name = "tensorboard"
    description = ("TensorBoard event files in RUN/tensorboard/: losses per step, metrics over training, "
                   "sample grids, the config.")

    @classmethod
    def check_available(cls) -> None:
        if importlib.util.find_spec("tensorboard") is None:
            raise UsageError(f"--log tensorboard needs the tensorboard package, which is not installed; "
                             f"install it with: {INSTALL_HINT}")

    def open(self, run_dir: Path, config: Mapping[str, Any]) -> None:
        self.check_available()
        from torch.utils.tensorboard import SummaryWriter  # here: importing it loads TensorBoard

        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / FOLDER))

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, global_step=step)

    def log_images(self, step: int, tag: str, image: Tensor) -> None:
        self.writer.add_image(tag, image, global_step=step, dataformats="CHW")

    def log_text(self, tag: str, text: str) -> None:
        # TensorBoard shows text as Markdown: indented, it is shown as written.
        self.writer.add_text(tag, "\n".join("    " + line for line in text.splitlines()))

    def close(self) -> None:
        self.writer.close()


@hookimpl
def register_loggers(register) -> None:
    register(TensorBoardLogger)
