"""The checkpoints of :func:`qtaml_tac.finetune.finetune`: what a resumed run must match, written atomically."""

from __future__ import annotations

import io
import json
import os

import torch

from qtaml_theory.report.cli import write_atomically

from .plan import channel_to_dict

#: Version of the checkpoint layout written by :func:`qtaml_tac.finetune.finetune`.
CHECKPOINT_VERSION = 1


# -- checkpoints -------------------------------------------------------------------------------------------

def _fingerprint(model, config, kind, plan, epochs, lr, seed, rounds, batch_size):
    """What a checkpoint must match to be resumed: the run's arguments and the model's parameter shapes."""
    return json.dumps({
        "noise": kind.name, "epochs": epochs, "lr": lr, "seed": seed, "rounds": rounds, "batch_size": batch_size,
        "channel": channel_to_dict(config.channel), "budget_fraction": float(config.budget_fraction),
        "n_bits": config.storage.n_bits, "encoding": config.storage.encoding,
        "plan": None if plan is None else plan.to_dict(),
        "parameters": {name: list(p.shape) for name, p in model.named_parameters()},
    }, sort_keys=True)


def _save_checkpoint(path, state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomically(path, buffer.getvalue())


def _load_checkpoint(path, fingerprint):
    try:
        state = torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError) as error:
        raise ValueError(f"checkpoint {os.fspath(path)!r} cannot be read as a finetune checkpoint ({error}); move it "
                         "away to start over") from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint {os.fspath(path)!r} is not a finetune checkpoint of version "
                         f"{CHECKPOINT_VERSION}; move it away to start over")
    if state["fingerprint"] != fingerprint:
        raise ValueError(f"checkpoint {os.fspath(path)!r} belongs to another run (other arguments or model); move it "
                         "away or choose another path")
    return state

