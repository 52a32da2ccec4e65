"""The Novita client against the sandbox over loopback: generation, case endpoints, video, models,
user info, Novita error envelopes, polling under faults, timeouts, URL expiry, secrets, the default."""

from __future__ import annotations

import asyncio
import logging

import pytest
from novita_helpers import KEY, MODEL, drive, png
from sandbox_fixtures import sandbox_fixture

from naikit import errors
from naikit._transport import RetryPolicy
from naikit.novita import AsyncNovita, LoRA, Novita, S3Storage, TaskFailed, TaskResult, TaskTimeout
from naikit.novita.tasks import Task
from naikit.sandbox import novita_store

FAST = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.01)


sb = sandbox_fixture(clock=True)


@pytest.fixture
def nv(sb, clock):
    sb.faults = None
    with Novita(KEY, base_url=sb.url, retry=FAST) as client:
        drive(client, clock)
        yield client


def test_txt2img_images_seed_and_frame(nv):
    res = nv.txt2img(
        "a lighthouse", model_name=MODEL, seed=42, image_num=2, width=256, height=128, progress=False
    )
    assert (
        isinstance(res, TaskResult) and res.succeeded and res.seed == "42" and res.task_type == "TXT_TO_IMG"
    )
    assert [im.size for im in res.images] == [(256, 128), (256, 128)]
    frame = res.to_frame()
    assert list(frame["kind"]) == ["image", "image"] and list(frame["width"]) == [256, 256]
    assert res.task_id in nv.task_ids
    again = nv.txt2img(
        "a lighthouse", model_name=MODEL, seed=42, image_num=2, width=256, height=128, progress=False
    )
    assert [f.data for f in again.image_files] == [f.data for f in res.image_files]  # deterministic per seed
    assert "<img src='data:image/png;base64," in res._repr_html_()


def test_wait_false_returns_task_and_progress_moves(nv, clock):
    task = nv.txt2img("x", model_name=MODEL, image_num=4, wait=False)
    assert isinstance(task, Task) and task.endpoint == "txt2img"
    seen = []
    res = nv.wait_for_task(task, progress=False, callback=lambda r: seen.append((r.status, r.progress)))
    statuses = [s for s, _ in seen]
    assert statuses[0] == "QUEUED" and statuses[-1] == "SUCCEED" and "PROCESSING" in statuses
    progress = [p for s, p in seen if s == "PROCESSING"]
    assert progress == sorted(progress) and res.progress == 100


def test_img2img_inpainting_upscale_and_types(nv):
    src = png(320, 200)
    res = nv.img2img(
        src, "oil painting", model_name=MODEL, strength=0.6, response_image_type="jpeg", progress=False
    )
    assert res.images[0].size == (320, 200) and res.image_files[0].type == "jpeg"
    assert res.images[0].format == "JPEG"
    mask = png(320, 200, (255, 255, 255))
    inp = nv.inpainting(
        src, mask, "a hat", model_name="dreamshaper_8Inpainting_v8.safetensors", progress=False
    )
    assert inp.images[0].size == (320, 200)
    up = nv.upscale(src, scale_factor=2, response_image_type="webp", progress=False)
    assert up.images[0].size == (640, 400) and up.images[0].format == "WEBP"


def test_loras_embeddings_vae_hires_refiner_and_storage(nv):
    res = nv.txt2img(
        "detailed",
        model_name=MODEL,
        loras=[LoRA("add_detail_44319", 0.7)],
        embeddings=["easynegative"],
        sd_vae="vae-ft-mse-840000-ema-pruned.safetensors",
        hires_fix={"target_width": 640, "target_height": 640},
        refiner=0.8,
        progress=False,
    )
    assert res.images[0].size == (640, 640)
    stored = nv.txt2img(
        "to s3", model_name=MODEL, custom_storage=S3Storage("us-east-1", "b", "p/"), progress=False
    )
    assert stored.succeeded and stored.files == []  # written to the bucket, not served
    with pytest.raises(errors.APIError) as e:
        nv.txt2img("x", model_name=MODEL, loras=["no_such_lora"], progress=False)
    assert (
        e.value.status == 400 and e.value.reason == "INVALID_REQUEST_BODY" and "no_such_lora" in str(e.value)
    )
    with pytest.raises(errors.APIError):
        nv.txt2img("x", model_name="missing.safetensors", progress=False)


def test_case_endpoints(nv):
    src = png(80, 60)
    rb = nv.remove_background(src)
    assert rb.image.mode == "RGBA" and rb.image_type == "png"
    assert nv.replace_background(src, "a beach").image.size == (80, 60)
    assert nv.cleanup(src, png(80, 60, (255, 255, 255))).image.size == (80, 60)
    assert nv.remove_text(src).image_type == "png"
    assert nv.reimagine(src, response_image_type="jpeg").image.format == "JPEG"
    assert nv.merge_face(src, png(20, 20)).image.size == (80, 60)
    assert "80x60" in nv.img2prompt(src)


def test_video_endpoints(nv):
    vid = nv.img2video(png(64, 64), video_options={"model_name": "SVD"}, progress=False)
    assert vid.video_files and vid.videos[0][:6] == b"GIF89a"
    t2v = nv.txt2video(
        "waves", model_name=MODEL, video_options={"frames": 8, "width": 256, "height": 256}, progress=False
    )
    assert t2v.task_type == "TXT_TO_VIDEO" and t2v.videos


def test_models_pagination_filters_and_user(nv, sb):
    sb.reset_stats()
    full = nv.models(limit=5)
    assert len(full) == len(novita_store.CATALOGUE) and full.pages == 4
    assert full.to_frame()["sd_name"].is_unique
    loras = nv.models(types="lora")
    assert set(loras.to_frame()["type"]) == {"lora"} and "add_detail_44319" in loras.names()
    assert {m.is_sdxl for m in nv.models(is_sdxl=True)} == {True}
    first = nv.models(limit=2, max_pages=1)
    assert len(first) == 2 and first.next_cursor.startswith("c_")
    assert nv.models(query="anime", types="checkpoint").names() == ["animagineXLV31_v31_325600.safetensors"]
    info = nv.user_info()
    assert info.credit_balance > 0 and "txt2img" in info.allow_features
    with pytest.raises(errors.InputError):
        nv.models(types="checkpoints")


def test_bad_input_sends_nothing(nv, sb):
    from PIL import Image

    sb.reset_stats()
    cases = [
        lambda: nv.txt2img("x", model_name=MODEL, sampler_name="Euler z"),
        lambda: nv.txt2img("x", model_name=MODEL, loras=[f"l{i}" for i in range(6)]),
        lambda: nv.img2img(Image.new("RGB", (4100, 4100)), "x", model_name=MODEL),
        lambda: nv.img2img(b"\x89PNG" + b"\0" * (10 * 1024 * 1024), "x", model_name=MODEL),
        lambda: nv.train_style("s", "stable-diffusion-9", [png()], ["c"]),
        lambda: nv.train_style("s", "v1-5-pruned-emaonly", [png()], ["c"], learning_rate=3e-4),
        lambda: nv.txt2img("x", model_name=MODEL, timeot=3),
    ]
    for case in cases:
        with pytest.raises(errors.InputError):
            case()
    assert sb.stats()["requests"] == 0


def test_error_envelope_mapping(sb, clock):
    novita_store.create_key(sb.store, "poor-key-0000", credit_balance=10)
    with Novita("poor-key-0000", base_url=sb.url, retry=FAST) as poor:
        with pytest.raises(errors.PaymentRequired) as e:
            poor.txt2img("x", model_name=MODEL, progress=False)
        assert e.value.reason == "BILLING_BALANCE_NOT_ENOUGH" and poor.task_ids == []
    with Novita("wrong-key-0000", base_url=sb.url, retry=FAST) as bad:
        with pytest.raises(errors.AuthError) as e:
            bad.user_info()
        assert (
            e.value.status == 403 and e.value.reason == "INVALID_API_KEY" and "NOVITA_API_KEY" in str(e.value)
        )
    with Novita(KEY, base_url=sb.url, retry=FAST) as nv:
        with pytest.raises(errors.NotFound) as e:
            nv.task_result("00000000-0000-0000-0000-000000000000")
        assert e.value.reason == "TASK_NOT_FOUND"


def test_an_error_while_waiting_is_noted_with_the_task_id(nv):
    task = nv.txt2img("x", model_name=MODEL, wait=False)

    def broken(status):
        raise RuntimeError("callback broke")

    with pytest.raises(RuntimeError) as e:
        nv.wait_for_task(task, progress=False, callback=broken)
    assert e.value.task_id == task.task_id and e.value.__notes__ == [f"naikit: txt2img id {task.task_id}"]


def test_failed_task_raises_with_id_and_can_be_returned(nv):
    with pytest.raises(TaskFailed) as e:
        nv.txt2img("sandbox:fail please", model_name=MODEL, progress=False)
    assert e.value.task_id == nv.task_ids[-1] and e.value.result.status == "FAILED"
    assert "prompt asked for a failure" in str(e.value)
    res = nv.wait_for_task(e.value.task_id, raise_on_failure=False, progress=False)
    assert res.failed and res.images == [] and res.files == []
    with pytest.raises(TaskFailed):
        res.raise_for_status()


def test_polling_under_faults_keeps_ids_and_never_reports_false_success(sb, clock):
    sb.faults = "429=0.25,500=0.2,drop=0.15,retry_after=0,seed=11,paths=/v3/async/task-result"
    try:
        with Novita(
            KEY, base_url=sb.url, retry=RetryPolicy(attempts=2, backoff=0.001, max_backoff=0.01)
        ) as nv:
            drive(nv, clock)
            outcomes = {}
            for i in range(8):
                prompt = "sandbox:fail" if i % 2 else "fine"
                task = nv.txt2img(prompt, model_name=MODEL, wait=False)
                try:
                    outcomes[task.task_id] = (
                        "ok",
                        nv.wait_for_task(task, progress=False, timeout=120).status,
                    )
                except TaskFailed as exc:
                    outcomes[task.task_id] = ("failed", exc.task_id)
            assert list(outcomes) == nv.task_ids[-8:]
            for i, (task_id, (kind, detail)) in enumerate(outcomes.items()):
                if i % 2:
                    assert kind == "failed" and detail == task_id
                else:
                    assert kind == "ok" and detail == "SUCCEED"
        injected = sb.stats()["injected"]
        assert sum(injected.values()) > 0
    finally:
        sb.faults = None


def test_timeout_is_time_based_and_keeps_id(sb):
    now = [0.0]

    async def sleep(s):  # time passes for the poller only: the sandbox task stays queued
        now[0] += s

    with Novita(KEY, base_url=sb.url, retry=FAST) as nv:
        nv.poll_clock, nv.poll_sleep = (lambda: now[0]), sleep
        task = nv.txt2img("x", model_name=MODEL, wait=False)
        with pytest.raises(TaskTimeout) as e:
            nv.wait_for_task(task, timeout=30, progress=False)
        assert e.value.task_id == task.task_id and e.value.result.status == "QUEUED"
        assert isinstance(e.value, TimeoutError) and task.task_id in str(e.value)
        assert 30 <= now[0] < 36  # seconds, not a count of polls


def test_growing_interval(sb, clock):
    waits = []

    async def sleep(s):
        waits.append(s)
        clock.advance(0.01)

    with Novita(KEY, base_url=sb.url, retry=FAST) as nv:
        nv.poll_clock, nv.poll_sleep = clock.now, sleep
        task = nv.txt2img("x", model_name=MODEL, wait=False)
        with pytest.raises(TaskTimeout):
            nv.wait_for_task(task, timeout=0.08, interval=0.5, max_interval=2, progress=False)
    assert waits[0] == 0.5 or waits[0] <= 0.08  # first wait is capped by the remaining budget
    now = [0.0]
    waits.clear()

    async def sleep2(s):
        waits.append(s)
        now[0] += s

    with Novita(KEY, base_url=sb.url, retry=FAST) as nv:
        nv.poll_clock, nv.poll_sleep = (lambda: now[0]), sleep2
        task = nv.txt2img("x", model_name=MODEL, wait=False)
        with pytest.raises(TaskTimeout):
            nv.wait_for_task(task, timeout=20, interval=0.5, max_interval=4, progress=False)
    assert waits[:5] == [0.5, 0.75, 1.125, 1.6875, 2.53125] and max(waits) == 4


def test_result_urls_expire(nv, clock):
    task = nv.txt2img("x", model_name=MODEL, wait=False)
    res = nv.wait_for_task(task, download=False, progress=False)
    assert res.image_files[0].ttl == 3600 and res.images == []
    nv.download(res)
    assert res.images[0].size == (512, 512)
    clock.advance(3601)
    res.image_files[0].data = None
    with pytest.raises(errors.APIError) as e:
        nv.download(res)
    assert e.value.status == 403 and e.value.task_id == task.task_id
    tampered = res.image_files[0].url.replace("X-Amz-Expires=3600", "X-Amz-Expires=99999")
    with pytest.raises(errors.APIError):
        nv.fetch_url(tampered)


def test_async_client_and_progress_widget(sb, clock):
    from naikit.novita import ProgressBar

    async def main():
        async with AsyncNovita(KEY, base_url=sb.url, retry=FAST) as nv:
            drive(nv, clock)
            bar = ProgressBar("pending", "txt2img", show=False)
            res = await nv.txt2img("x", model_name=MODEL, progress=bar)
            return res, bar

    res, bar = asyncio.run(main())
    assert res.succeeded and bar.bar.value == 100 and bar.bar.bar_style == "success"
    assert bar.label.value == "SUCCEED"


def test_key_never_in_repr_logs_or_errors(sb, clock, caplog):
    secret = "nv-sk-0123456789abcdef-secret"
    novita_store.create_key(sb.store, secret, credit_balance=10)
    caplog.set_level(logging.DEBUG)
    texts = []
    with Novita(secret, base_url=sb.url, retry=FAST) as nv:
        drive(nv, clock)
        texts += [repr(nv), str(nv), repr(nv.transport), repr(nv._async)]
        nv.user_info()
        for call in (lambda: nv.txt2img("x", model_name=MODEL), lambda: nv.task_result("nope")):
            try:
                call()
            except errors.NaikitError as exc:
                texts += [str(exc), repr(exc), repr(getattr(exc, "body", ""))]
    with Novita(secret + "x", base_url=sb.url, retry=FAST) as bad:
        with pytest.raises(errors.AuthError) as e:
            bad.user_info()
        texts += [str(e.value), repr(e.value), repr(bad)]
    with pytest.raises(errors.CredentialsError) as e:
        Novita("has space " + secret)
    texts.append(str(e.value))
    assert all(secret not in t for t in texts)
    assert secret not in caplog.text and len(caplog.records) > 0


def test_embedded_sandbox_default_and_env(fresh_env, capsys, sb):
    import naikit._embedded

    # announced once per process: forget earlier tests' announcements so this one sees its own
    fresh_env.setattr(naikit._embedded, "_announced", set())
    with Novita() as nv:
        assert nv.user_info().credit_balance > 0 and nv.is_sandbox
        nv.user_info()
    with Novita() as again:
        again.user_info()
    out = capsys.readouterr().out
    assert out.count("offline Novita sandbox") == 1 and "NOVITA_API_KEY" in out
    fresh_env.setenv("NOVITA_API_KEY", KEY)
    fresh_env.setenv("NOVITA_BASE_URL", sb.url)
    with Novita() as env_client:
        assert not env_client.is_sandbox and env_client.base_url == sb.url
        assert env_client.user_info().credit_balance > 0
    fresh_env.delenv("NOVITA_API_KEY")
    with Novita(sandbox=False) as none:
        with pytest.raises(errors.CredentialsError):
            none.user_info()


def test_progress_true_in_a_terminal_is_a_tqdm_text_bar(sb, clock):
    import io

    from naikit._poll import TqdmProgress, _make_reporter

    assert isinstance(_make_reporter(True, "t", "txt2img"), TqdmProgress)  # no kernel here: a terminal
    out = io.StringIO()

    async def main():
        async with AsyncNovita(KEY, base_url=sb.url, retry=FAST) as nv:
            drive(nv, clock)
            bar = TqdmProgress("pending", "txt2img", file=out)
            res = await nv.txt2img("x", model_name=MODEL, progress=bar)
            return res, bar

    res, bar = asyncio.run(main())
    assert res.succeeded and bar.value == 100 and bar.bar.n == 100
    text = out.getvalue()
    assert "txt2img" in text and "100%" in text and "SUCCEED" in text
