"""The one trainer: learning, hooks, checkpoint/resume, non-finite loss."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from archai.common.checkpoint import load_checkpoint
from archai.common.logger import RunLogger, read_events
from archai.datasets import build_loaders
from archai.search.trainer import NonFiniteLossError, Trainer, TrainerHook, trainer_conf

LOADER = {
    "batch_size": 50,
    "eval_batch_size": 500,
    "val_fraction": 0.2,
    "train_limit": 1000,
    "test_limit": 500,
    "augment": True,
    "cutout": 4,
    "num_workers": 0,
    "pin_memory": False,
}
MINI = {"name": "fashion_mnist_mini", "dataroot": None, "download": False}


def small_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


@pytest.fixture(scope="module")
def loaders():
    return build_loaders(MINI, LOADER, seed=1)


def test_small_cnn_learns_on_bundled_set(loaders, tmp_path):
    log = RunLogger(tmp_path, console=False, tensorboard=True)
    trainer = Trainer(
        small_cnn(),
        trainer_conf(epochs=3, optimizer={"lr": 0.1}, log_every_steps=5),
        device="cpu",
        logger=log,
    )
    small_batches = build_loaders(MINI, {**LOADER, "batch_size": 16, "train_limit": 2000}, seed=1)
    chance = trainer.evaluate(loaders.val)["top1"]
    result = trainer.fit(small_batches.train, loaders.val)
    log.close()
    assert result.history[-1]["val/top1"] > 0.5 > chance + 0.2
    assert result.history[-1]["train/loss"] < result.history[0]["train/loss"]
    epochs = [e for e in read_events(tmp_path) if e["kind"] == "metrics" and "val/top1" in e.get("data", {})]
    assert [e["fields"]["epoch"] for e in epochs] == [1, 2, 3]
    assert any((tmp_path / "tb").iterdir())


def test_progress_lines_report_loss_and_speed(tmp_path):
    log = RunLogger(tmp_path, console=False, tensorboard=False, progress=False)
    data = TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
    conf = trainer_conf(epochs=2, log_every_steps=0, progress_every_s=1e-9)
    Trainer(torch.nn.Linear(4, 2), conf, device="cpu", logger=log, scope="child_7").fit(
        DataLoader(data, batch_size=16)
    )
    log.close()
    lines = [e for e in read_events(tmp_path) if e["kind"] == "progress"]
    assert [e["fields"]["message"] for e in lines[-4:]] == [
        f"child_7 epoch 2/2 step {n}/4" for n in (1, 2, 3, 4)
    ]
    assert all(
        e["scope"] == "child_7" and e["data"]["loss"] > 0 and e["data"]["images_per_s"] > 0 for e in lines
    )
    assert len(lines) == 8  # none when progress_every_s is 0 (the other tests)


class CrashBeforeEpoch(TrainerHook):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def before_epoch(self, trainer, epoch):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated kill")


class CountingHook(TrainerHook):
    """A stateful hook: its state must survive resume."""

    def __init__(self) -> None:
        self.steps = 0

    def after_step(self, trainer, step, batch, loss):
        self.steps += 1

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


def test_resume_is_bit_identical(loaders, tmp_path):
    conf = trainer_conf(epochs=3, optimizer={"lr": 0.05}, drop_path_prob=0.0)
    ref_hook = CountingHook()
    ref = Trainer(small_cnn(), conf, device="cpu", hooks=[ref_hook], seed=5)
    torch.manual_seed(123)
    ref_result = ref.fit(loaders.train, loaders.val)

    ckpt = tmp_path / "ckpt.pt"
    first = Trainer(
        small_cnn(),
        conf,
        device="cpu",
        hooks=[CountingHook(), CrashBeforeEpoch(2)],
        checkpoint_path=ckpt,
        seed=5,
    )
    torch.manual_seed(123)
    with pytest.raises(KeyboardInterrupt):
        first.fit(loaders.train, loaders.val)
    assert load_checkpoint(ckpt)["epoch"] == 2

    torch.manual_seed(999)  # a different process state: resume must not depend on it
    hook = CountingHook()
    resumed = Trainer(
        small_cnn(seed=7), conf, device="cpu", hooks=[hook, TrainerHook()], checkpoint_path=ckpt, seed=5
    )
    result = resumed.fit(loaders.train, loaders.val)
    for k, v in ref.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    timing = {"images_per_s", "seconds"}
    strip = lambda hist: [{k: v for k, v in h.items() if k not in timing} for h in hist]  # noqa: E731
    assert strip(result.history) == strip(ref_result.history)
    assert hook.steps == ref_hook.steps


def test_non_finite_loss_names_epoch_and_step_and_keeps_checkpoint(loaders, tmp_path):
    class Poison(TrainerHook):
        def before_step(self, trainer, step, batch):
            if trainer.epoch == 1 and step == 3:
                batch[0].fill_(float("nan"))

    ckpt = tmp_path / "c.pt"
    t = Trainer(small_cnn(), trainer_conf(epochs=3), device="cpu", hooks=[Poison()], checkpoint_path=ckpt)
    with pytest.raises(NonFiniteLossError, match="epoch 2, step 4") as e:
        t.fit(loaders.train)
    assert str(ckpt) in str(e.value)
    assert load_checkpoint(ckpt)["epoch"] == 1


def test_weight_optimizer_skips_architecture_parameters():
    class WithArch(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 3)
            self.alpha = nn.Parameter(torch.zeros(3))

        def forward(self, x):
            return self.body(x) + self.alpha

        def weight_parameters(self):
            return self.body.parameters()

    m = WithArch()
    data = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]
    Trainer(m, trainer_conf(epochs=2), device="cpu").fit(data)
    assert torch.count_nonzero(m.alpha) == 0


def test_aux_head_loss_and_drop_path_schedule():
    class Aux(nn.Module):
        drop_path_prob = 0.0

        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(4, 3)
            self.seen = []

        def forward(self, x):
            self.seen.append(self.drop_path_prob)
            return (self.a(x), self.b(x)) if self.training else self.a(x)

    m = Aux()
    data = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]
    before = m.b.weight.clone()
    Trainer(m, trainer_conf(epochs=4, aux_weight=0.4, drop_path_prob=0.2), device="cpu").fit(data)
    assert not torch.equal(before, m.b.weight)  # aux head got gradients
    assert m.seen == pytest.approx([0.0, 0.05, 0.1, 0.15])
