"""Model bundles: one folder with `model.keras` and `card.json`. Saving and loading the network
(TensorFlow); everything that only reads the card lives in `livescope.card`."""

from __future__ import annotations

from pathlib import Path

from livescope.card import CARD_FILE, MODEL_FILE, read_card, write_card
from livescope.errors import LivescopeError


def save_bundle(model, card: dict, out: str | Path) -> Path:
    from livescope.models import hub

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    hub.copy_into_bundle(model, out)  # a TF-Hub module travels inside the bundle
    model.save(out / MODEL_FILE)
    write_card(card, out)
    return out


def load_bundle(bundle: str | Path):
    """Load (model, card) with Keras safe_mode=True, and check the card against the model."""
    from livescope.tfenv import keras

    bundle = Path(bundle)
    card = read_card(bundle)
    model_path = bundle / MODEL_FILE
    if not model_path.exists():
        raise LivescopeError(f"model bundle {bundle} has no {MODEL_FILE}", "copy the whole bundle folder")
    import livescope.models.ensemble  # noqa: F401 - registers our serializable layers
    import livescope.models.layers  # noqa: F401
    from livescope.models import hub

    try:
        with hub.bundle_folder(bundle):  # a TF-Hub backbone's module is stored beside the model
            model = keras().saving.load_model(model_path, compile=False, safe_mode=True)
    except LivescopeError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise LivescopeError(f"cannot load {model_path} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
                             "the file may be damaged or not a livescope bundle") from None
    size = model.input_shape[1]
    if size != card["input_size"]:
        raise LivescopeError(f"{bundle}: card says input size {card['input_size']} but the model takes {size}",
                             "fix input_size in card.json or retrain")
    outputs = model.output if isinstance(model.output, dict) else {}
    for task, info in card["tasks"].items():
        if task not in outputs:
            raise LivescopeError(f"{bundle}: card lists task {task} but the model has no such head",
                                 "retrain or fix the card's tasks")
        n = outputs[task].shape[-1]
        if n != len(info["labels"]):
            raise LivescopeError(f"{bundle}: task {task} has {len(info['labels'])} labels in the card "
                                 f"but the head has {n} outputs", "fix the labels in card.json or retrain")
    return model, card


__all__ = ["CARD_FILE", "MODEL_FILE", "load_bundle", "save_bundle"]
