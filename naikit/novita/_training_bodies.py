"""Bodies of Novita's LoRA training requests: the expert settings, the components, the task itself."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .._novita_limits import (
    LEARNING_RATES,
    LR_SCHEDULERS,
    MAX_TRAINING_IMAGES,
    TRAINING_BASE_MODELS,
    TRAINING_COMPONENTS,
)
from .._validate import check_above, check_bool, check_choice, check_int, check_string
from ..errors import InputError

__all__ = ["expert_setting", "components_json", "training_request"]


def _learning_rate(value: Any) -> float:
    rate = value
    if isinstance(value, str):
        try:
            rate = float(value)
        except ValueError:
            rate = None
    if (
        not isinstance(rate, (int, float))
        or isinstance(rate, bool)
        or not any(math.isclose(rate, r, rel_tol=1e-9) for r in LEARNING_RATES)
    ):
        raise InputError(
            "learning_rate",
            value,
            "one of 1e-4, 1e-5, 1e-6, 2e-4, 5e-5",
            "Novita accepts only these; 3e-4 (used by its own playground) is refused by the API docs.",
        )
    return float(rate)


def expert_setting(
    kind: str,
    *,
    instance_prompt: str | None = None,
    class_prompt: str | None = None,
    learning_rate: float | str | None = None,
    max_train_steps: int | None = None,
    train_batch_size: int | None = None,
    seed: int | None = None,
    lr_scheduler: str | None = None,
    lr_warmup_steps: int | None = None,
    with_prior_preservation: bool | None = None,
    prior_loss_weight: float | None = None,
    train_text_encoder: bool | None = None,
    lora_r: int | None = None,
    lora_alpha: int | None = None,
    lora_text_encoder_r: int | None = None,
    lora_text_encoder_alpha: int | None = None,
) -> dict[str, Any]:
    """Return a validated ``expert_setting`` for a ``"subject"`` or ``"style"`` training (unset keys omitted).

    Subject training needs ``instance_prompt`` and ``class_prompt`` ("person"); style training takes only the
    batch size, learning rate, steps, seed and scheduler settings.
    """
    check_choice(kind, "kind", ("subject", "style"))
    es: dict[str, Any] = {}
    if kind == "subject":
        es["instance_prompt"] = check_string(instance_prompt, "instance_prompt", hi=1024)
        es["class_prompt"] = check_choice(class_prompt, "class_prompt", ("person",))
    else:
        subject_only = {
            "instance_prompt": instance_prompt,
            "class_prompt": class_prompt,
            "with_prior_preservation": with_prior_preservation,
            "prior_loss_weight": prior_loss_weight,
            "train_text_encoder": train_text_encoder,
            "lora_r": lora_r,
            "lora_alpha": lora_alpha,
            "lora_text_encoder_r": lora_text_encoder_r,
            "lora_text_encoder_alpha": lora_text_encoder_alpha,
        }
        given = [k for k, v in subject_only.items() if v is not None]
        if given:
            raise InputError(
                given[0], subject_only[given[0]], "not set for a style training (subject training only)"
            )
    if train_batch_size is not None:
        es["train_batch_size"] = check_int(train_batch_size, "train_batch_size", lo=1, hi=4)
    if learning_rate is not None:
        es["learning_rate"] = _learning_rate(learning_rate)
    if max_train_steps is not None:
        es["max_train_steps"] = check_int(max_train_steps, "max_train_steps", lo=1)
    if seed is not None:
        es["seed"] = check_int(seed, "seed", lo=1)
    if lr_scheduler is not None:
        es["lr_scheduler"] = check_choice(lr_scheduler, "lr_scheduler", LR_SCHEDULERS)
    if lr_warmup_steps is not None:
        es["lr_warmup_steps"] = check_int(lr_warmup_steps, "lr_warmup_steps", lo=0)
    if with_prior_preservation is not None:
        es["with_prior_preservation"] = check_bool(with_prior_preservation, "with_prior_preservation")
    if prior_loss_weight is not None:
        es["prior_loss_weight"] = check_above(prior_loss_weight, "prior_loss_weight", 0)
    if train_text_encoder is not None:
        es["train_text_encoder"] = check_bool(train_text_encoder, "train_text_encoder")
    for name, value in (
        ("lora_r", lora_r),
        ("lora_alpha", lora_alpha),
        ("lora_text_encoder_r", lora_text_encoder_r),
        ("lora_text_encoder_alpha", lora_text_encoder_alpha),
    ):
        if value is not None:
            es[name] = check_int(value, name, lo=4, hi=128)
    return es


def components_json(components: Any) -> list[dict[str, Any]]:
    """Return training ``components`` as Novita wants them (``[{name, args: [{name, value: str}]}]``).

    Accepts that list, or a dict ``{"face_crop_region": {"ratio": 1.4}, "resize": {"width": 512, ...}}``.
    """
    if isinstance(components, Mapping):
        components = [
            {"name": n, "args": [{"name": k, "value": v} for k, v in (args or {}).items()]}
            for n, args in components.items()
        ]
    if not isinstance(components, (list, tuple)):
        raise InputError("components", components, "a list of {name, args} or a {name: {arg: value}} dict")
    out = []
    for i, comp in enumerate(components):
        name = comp.get("name") if isinstance(comp, Mapping) else None
        comp_name: str = check_choice(name, f"components[{i}].name", tuple(TRAINING_COMPONENTS))
        args = []
        for arg in comp.get("args") or []:
            arg_name = arg.get("name") if isinstance(arg, Mapping) else None
            check_choice(arg_name, f"components[{i}].args.name", TRAINING_COMPONENTS[comp_name])
            value = arg.get("value")
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise InputError(f"components[{i}].args.{arg_name}", value, "a number or a string")
            args.append({"name": arg_name, "value": str(value)})
        out.append({"name": name, "args": args})
    return out


def training_request(
    kind: str,
    *,
    name: str,
    base_model: str,
    assets_ids: Sequence[str],
    captions: Sequence[str] | None = None,
    width: int = 512,
    height: int = 512,
    expert: Mapping[str, Any] | None = None,
    components: Any = None,
) -> dict[str, Any]:
    """Return the body of ``POST /v3/training/subject`` or ``/v3/training/style``.

    Style training needs one caption (1–1024 characters) per image; at most 50 images per task.
    """
    check_choice(kind, "kind", ("subject", "style"))
    check_string(name, "name", hi=256)
    check_choice(base_model, "base_model", TRAINING_BASE_MODELS)
    if not isinstance(assets_ids, (list, tuple)) or not assets_ids:
        raise InputError("images", assets_ids, "at least one training image")
    if len(assets_ids) > MAX_TRAINING_IMAGES:
        raise InputError(
            "images", f"<{len(assets_ids)} images>", f"at most {MAX_TRAINING_IMAGES} images per task"
        )
    items: list[dict[str, Any]] = [{"assets_id": check_string(a, "assets_id")} for a in assets_ids]
    if kind == "style" or captions is not None:
        if not isinstance(captions, (list, tuple)) or len(captions) != len(items):
            raise InputError(
                "captions",
                f"<{len(captions)} captions>" if isinstance(captions, (list, tuple)) else captions,
                f"a list of one caption per image ({len(items)})",
            )
        for i, (item, cap) in enumerate(zip(items, captions, strict=True)):
            item["caption"] = check_string(cap, f"captions[{i}]", hi=1024)
    body: dict[str, Any] = {
        "name": name,
        "base_model": base_model,
        "width": check_int(width, "width", lo=1),
        "height": check_int(height, "height", lo=1),
        "image_dataset_items": items,
        "expert_setting": dict(expert if expert is not None else expert_setting(kind)),
    }
    if components is not None:
        body["components"] = components_json(components)
    elif kind == "subject":
        # documented as required for subject training; these are the SDK's face defaults
        body["components"] = components_json(
            {
                "face_crop_region": {"ratio": "1.4"},
                "resize": {"width": width, "height": height},
                "face_restore": {"method": "gfpgan_1.4", "upscale": "1.0"},
            }
        )
    else:
        body["components"] = []
    return body
