"""Request builders refuse bad input before anything is sent, naming the field and what is allowed."""

from __future__ import annotations

import base64

import pytest
from novita_helpers import MODEL, png

from naikit.errors import InputError
from naikit.novita import requests as rq


def _field(excinfo) -> str:
    return excinfo.value.field


def test_txt2img_body_leaves_unset_fields_out():
    body = rq.txt2img_request("a cat", model_name=MODEL, seed=5, loras={"add_detail_44319": 0.5})
    req = body["request"]
    assert req["loras"] == [{"model_name": "add_detail_44319", "strength": 0.5}]
    assert "negative_prompt" not in req and "sd_vae" not in req and None not in req.values()
    assert body["extra"] == {"response_image_type": "png"}


def test_txt2img_body_has_novitas_field_names_and_defaults():
    # written from Novita's txt2img table (spec novita.md §2): required fields with their documented
    # defaults; optional ones absent when unset (the service treats null and absent alike)
    body = rq.txt2img_request("a cat", model_name=MODEL, seed=5)
    assert body == {
        "extra": {"response_image_type": "png"},
        "request": {
            "model_name": MODEL,
            "prompt": "a cat",
            "width": 512,
            "height": 512,
            "image_num": 1,
            "steps": 20,
            "guidance_scale": 7.5,
            "sampler_name": "Euler a",
            "seed": 5,
        },
    }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sampler_name": "Euler b"}, "sampler_name"),
        ({"loras": [rq.LoRA(f"l{i}") for i in range(6)]}, "loras"),
        ({"embeddings": [f"e{i}" for i in range(6)]}, "embeddings"),
        ({"width": 2049}, "width"),
        ({"steps": 0}, "steps"),
        ({"guidance_scale": 31}, "guidance_scale"),
        ({"image_num": 9}, "image_num"),
        ({"hires_fix": {"target_width": 100, "target_height": 512}}, "hires_fix.target_width"),
        ({"refiner": 1.5}, "refiner.switch_at"),
        ({"loras": {"x": 1.5}}, "loras[0].strength"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 1025}, "prompt"),
    ],
)
def test_txt2img_refusals(kwargs, field):
    args = {"prompt": "a cat", "model_name": MODEL, **kwargs}
    prompt = args.pop("prompt")
    with pytest.raises(InputError) as e:
        rq.txt2img_request(prompt, **args)
    assert _field(e) == field
    assert "expected" in str(e.value)


def test_transparent_background_needs_png():
    with pytest.raises(InputError):
        rq.txt2img_request(
            "x",
            model_name=MODEL,
            enable_transparent_background=True,
            extra=rq.build_extra(response_image_type="jpeg"),
        )


def test_img2img_image_limits():
    from PIL import Image

    big = Image.new("RGB", (5000, 4000))  # 20 MP
    with pytest.raises(InputError) as e:
        rq.img2img_request(big, "x", model_name=MODEL)
    assert e.value.field == "image" and "megapixels" in str(e.value)
    with pytest.raises(InputError) as e:
        rq.img2img_request(b"\0" * (10 * 1024 * 1024 + 1), "x", model_name=MODEL)
    assert "10 MB" in str(e.value)
    with pytest.raises(InputError):
        rq.img2img_request(b"not an image", "x", model_name=MODEL)
    with pytest.raises(InputError):
        rq.img2img_request(png(), "x", model_name=MODEL, strength=0)
    body = rq.img2img_request(base64.b64encode(png(300, 200)).decode(), "x", model_name=MODEL)
    assert (body["request"]["width"], body["request"]["height"]) == (300, 200)


def test_controlnet_and_ip_adapter_checks():
    unit = rq.ControlNetUnit("control_v11p_sd15_canny", png(), 0.8, "canny")
    body = rq.img2img_request(png(), "x", model_name=MODEL, controlnet_units=[unit])
    assert body["request"]["controlnet"]["units"][0]["preprocessor"] == "canny"
    with pytest.raises(InputError) as e:
        rq.img2img_request(
            png(), "x", model_name=MODEL, controlnet_units=[rq.ControlNetUnit("c", png(), 1, "hed")]
        )
    assert e.value.field == "controlnet_units[0].preprocessor"
    ad = {"model_name": "ip-adapter_sd15.bin", "image": png()}
    with pytest.raises(InputError):
        rq.img2img_request(png(), "x", model_name=MODEL, ip_adapters=[ad, ad])


def test_inpainting_mask_size_and_upscale_limits():
    with pytest.raises(InputError) as e:
        rq.inpainting_request(png(64, 64), png(32, 32), "x", model_name=MODEL)
    assert e.value.field == "mask"
    from PIL import Image

    with pytest.raises(InputError):
        rq.upscale_request(Image.new("RGB", (2049, 10)))
    with pytest.raises(InputError):
        rq.upscale_request(png(), scale_factor=1)
    with pytest.raises(InputError):
        rq.upscale_request(png(), model_name="waifu2x")


def test_video_builders():
    body = rq.txt2video_request([("a", 16), ("b", 16)], model_name=MODEL, seed=3, closed_loop=True)
    assert body["seed"] == 3 and body["closed_loop"] is True  # the official SDK drops both
    with pytest.raises(InputError):
        rq.txt2video_request([("a", 64), ("b", 64), ("c", 8)], model_name=MODEL)
    with pytest.raises(InputError) as e:
        rq.img2video_request(png(), model_name="SVD", frames_num=25)
    assert e.value.field == "frames_num"
    assert rq.img2video_request(png(), model_name="SVD-XT")["frames_num"] == 25


def test_custom_storage_in_extra():
    extra = rq.build_extra(custom_storage=rq.S3Storage("us-east-1", "bucket", "out/"))
    assert extra["custom_storage"] == {"aws_s3": {"region": "us-east-1", "bucket": "bucket", "path": "out/"}}
    with pytest.raises(InputError):
        rq.build_extra(custom_storage={"aws_s3": {"region": "r", "bucket": ""}})


@pytest.mark.parametrize("lr", [3e-4, "3e-4", 0.1, "fast", True])
def test_learning_rates_outside_novitas_list_are_refused(lr):
    with pytest.raises(InputError) as e:
        rq.expert_setting("style", learning_rate=lr)
    assert e.value.field == "learning_rate"


def test_expert_settings():
    es = rq.expert_setting(
        "subject",
        instance_prompt="ohwx man",
        class_prompt="person",
        learning_rate="1e-4",
        lora_r=32,
        train_batch_size=2,
    )
    assert es["learning_rate"] == 1e-4 and es["lora_r"] == 32
    for kwargs, field in [
        ({"lora_r": 3}, "lora_r"),
        ({"train_batch_size": 5}, "train_batch_size"),
        ({"lr_scheduler": "exponential"}, "lr_scheduler"),
        ({"class_prompt": "dog"}, "class_prompt"),
    ]:
        args = {"instance_prompt": "ohwx", "class_prompt": "person", **kwargs}
        with pytest.raises(InputError) as e:
            rq.expert_setting("subject", **args)
        assert e.value.field == field
    with pytest.raises(InputError) as e:
        rq.expert_setting("style", lora_r=32)
    assert e.value.field == "lora_r"


def test_training_request_checks():
    ok = rq.training_request(
        "style", name="n", base_model="v1-5-pruned-emaonly", assets_ids=["a", "b"], captions=["x", "y"]
    )
    assert ok["image_dataset_items"][1] == {"assets_id": "b", "caption": "y"}
    with pytest.raises(InputError) as e:
        rq.training_request("style", name="n", base_model="sd-2.1", assets_ids=["a"], captions=["x"])
    assert e.value.field == "base_model"
    with pytest.raises(InputError) as e:
        rq.training_request(
            "style", name="n", base_model="v1-5-pruned-emaonly", assets_ids=["a", "b"], captions=["x"]
        )
    assert e.value.field == "captions"
    with pytest.raises(InputError):
        rq.training_request("subject", name="n", base_model="v1-5-pruned-emaonly", assets_ids=["a"] * 51)
    with pytest.raises(InputError) as e:
        rq.components_json({"face_crop_region": {"size": 1}})
    assert e.value.field == "components[0].args.name"
