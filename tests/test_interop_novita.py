"""`novita-client` 0.7.1 from PyPI (throwaway venv), pointed at the sandbox, runs txt2img, img2img and a
style training to success, then uses the trained LoRA; naikit reads what it made.

novita-client leaves dataclass-wizard unpinned and fails on 1.0 before sending anything (it cannot
serialise its own request classes; spec novita.md §7.1), so this venv pins the last working 0.22.3.
"""

from __future__ import annotations

import json
import logging

import pytest
import refclients
from novita_helpers import KEY

from naikit.novita import Novita

pytestmark = pytest.mark.interop

REF = "novita-client"

SCRIPT = r"""
import json, sys, time
from PIL import Image
from novita_client import NovitaClient
from novita_client.proto import Txt2ImgV3LoRA

url, key = sys.argv[1:3]
c = NovitaClient(key, url)
out = {}
r = c.txt2img_v3(model_name="dreamshaper_8_93211.safetensors", prompt="a cat", image_num=1, seed=7, steps=10)
out["txt2img"] = [r.task.status.value, len(r.images_encoded), r.task.task_id]
img = Image.new("RGB", (192, 128), (10, 120, 200))
r = c.img2img_v3(model_name="dreamshaper_8_93211.safetensors", input_image=img, prompt="x", image_num=2,
                 strength=0.6, width=192, height=128)
out["img2img"] = [r.task.status.value, len(r.images_encoded)]
task_id = c.create_training_style(
    name="interop style", base_model="v1-5-pruned-emaonly", images=[img, img],
    captions=["a blue card", "the same card"], learning_rate="1e-4", max_train_steps=100,
)
deadline = time.time() + 60
while time.time() < deadline:
    st = c._get("/v3/training/style", {"task_id": task_id})
    if st["task_status"] == "SUCCESS" and st["models"] and st["models"][0]["model_status"] == "SERVING":
        break
    time.sleep(0.5)
out["training"] = [task_id, st["task_status"], st["models"][0]["model_name"], st["models"][0]["model_status"]]
listed = c.list_training()
out["listed"] = [t.task_id for t in listed]
r = c.txt2img_v3(model_name="dreamshaper_8_93211.safetensors", prompt="with lora", image_num=1,
                 loras=[Txt2ImgV3LoRA(model_name=out["training"][2], strength=0.7)])
out["lora_txt2img"] = r.task.status.value
out["credit_balance"] = c.user_info().credit_balance
out["models"] = len(c.models_v3())
print(json.dumps(out))
"""

LOGGING_SCRIPT = r"""
import logging, sys
from novita_client import NovitaClient
logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)
NovitaClient(sys.argv[2], sys.argv[1]).user_info()
"""


def test_official_sdk_runs_txt2img_img2img_and_style_training(sb):
    out = json.loads(refclients.run_script(REF, SCRIPT, sb.url, KEY, timeout=300))
    assert out["txt2img"][:2] == ["TASK_STATUS_SUCCEED", 1]
    assert out["img2img"] == ["TASK_STATUS_SUCCEED", 2]
    task_id, status, model_name, model_status = out["training"]
    assert status == "SUCCESS" and model_status == "SERVING" and task_id in out["listed"]
    assert out["lora_txt2img"] == "TASK_STATUS_SUCCEED"
    assert out["models"] > 0 and out["credit_balance"] > 0
    # naikit sees the same objects
    with Novita(KEY, base_url=sb.url) as nv:
        assert nv.training_status(task_id, "style").model_name == model_name
        assert nv.task_result(out["txt2img"][2]).succeeded


def test_the_sdk_logs_the_key_naikit_does_not(sb, caplog):
    secret = "nv-interop-secret-key-42"
    from naikit.sandbox import novita_store

    novita_store.create_key(sb.store, secret)
    logged = refclients.run_script(REF, LOGGING_SCRIPT, sb.url, secret)
    assert secret in logged  # the reference prints its Authorization header at DEBUG
    caplog.set_level(logging.DEBUG)
    with Novita(secret, base_url=sb.url) as nv:
        nv.user_info()
    assert caplog.records and secret not in caplog.text
