"""Novita's documented values and limits (spec: novita.md): samplers, image and video types, upscalers,
ControlNet preprocessors, training base models and settings, and the case endpoints' image limits.

One declaration read by both sides: the request builders (:mod:`naikit.novita.requests`) refuse what these
lists do not allow, and the sandbox's Novita emulation answers by them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SAMPLERS",
    "IMAGE_TYPES",
    "VIDEO_TYPES",
    "UPSCALERS",
    "HIRES_UPSCALERS",
    "CONTROLNET_PREPROCESSORS",
    "IP_ADAPTER_MODELS",
    "TRAINING_BASE_MODELS",
    "LEARNING_RATES",
    "LR_SCHEDULERS",
    "TRAINING_COMPONENTS",
    "IMG2VIDEO_MODELS",
    "IMG2VIDEO_RESIZE",
    "MAX_LORAS",
    "MAX_EMBEDDINGS",
    "MAX_TRAINING_IMAGES",
    "MB",
    "CASE_ENDPOINTS",
]

# v3 docs list these 20 sampler names (the SDK's enum lacks three and adds one the docs do not have).
SAMPLERS = (
    "Euler a",
    "Euler",
    "LMS",
    "Heun",
    "DPM2",
    "DPM2 a",
    "DPM++ 2S a",
    "DPM++ 2M",
    "DPM++ SDE",
    "DPM fast",
    "DPM adaptive",
    "LMS Karras",
    "DPM2 Karras",
    "DPM2 a Karras",
    "DPM++ 2S a Karras",
    "DPM++ 2M Karras",
    "DPM++ SDE Karras",
    "DDIM",
    "PLMS",
    "UniPC",
)
IMAGE_TYPES = ("png", "webp", "jpeg")
VIDEO_TYPES = ("mp4", "gif")
UPSCALERS = ("RealESRGAN_x4plus_anime_6B", "RealESRNet_x4plus", "4x-UltraSharp")
HIRES_UPSCALERS = ("RealESRGAN_x4plus_anime_6B", "RealESRNet_x4plus", "Latent")
CONTROLNET_PREPROCESSORS = (
    "scribble_hed",
    "softedge_hed",
    "scribble_hedsafe",
    "softedge_hedsafe",
    "depth_midas",
    "mlsd",
    "openpose",
    "openpose_face",
    "openpose_faceonly",
    "openpose_full",
    "openpose_hand",
    "dwpose",
    "scribble_pidinet",
    "softedge_pidinet",
    "scribble_pidsafe",
    "softedge_pidsafe",
    "normal_bae",
    "lineart_coarse",
    "lineart_realistic",
    "lineart_anime",
    "lineart",
    "depth_zoe",
    "shuffle",
    "mediapipe_face",
    "canny",
    "depth",
    "depth_leres",
    "depth_leres++",
)
IP_ADAPTER_MODELS = ("ip-adapter_sd15.bin", "ip-adapter_sdxl.bin")
TRAINING_BASE_MODELS = (
    "stable-diffusion-xl-base-1.0",
    "dreamshaperXL09Alpha_alpha2Xl10_91562",
    "protovisionXLHighFidelity3D_release0630Bakedvae_154359",
    "v1-5-pruned-emaonly",
    "epicrealism_naturalSin_121250",
    "chilloutmix_NiPrunedFp32Fix",
    "abyssorangemix3AOM3_aom3a3_10864",
    "dreamshaper_8_93211",
    "WFChild_v1.0",
    "majichenmixrealistic_v10",
    "realisticVisionV51_v51VAE_94301",
    "sdxlUnstableDiffusers_v11_216694",
    "realisticVisionV40_v40VAE_81510",
    "epicrealismXL_v10_247189",
    "somboy_v10_172675",
    "yesmixXL_v10_283329",
    "animagineXLV31_v31_325600",
)
LEARNING_RATES = (1e-4, 1e-5, 1e-6, 2e-4, 5e-5)
LR_SCHEDULERS = ("constant", "linear", "cosine", "cosine_with_restarts", "polynomial", "constant_with_warmup")
# component name -> its argument names (all values are sent as strings)
TRAINING_COMPONENTS: dict[str, tuple[str, ...]] = {
    "face_crop_region": ("ratio",),
    "resize": ("width", "height"),
    "face_restore": ("method", "upscale"),
}
IMG2VIDEO_MODELS = {"SVD": 14, "SVD-XT": 25}
IMG2VIDEO_RESIZE = ("ORIGINAL_RESOLUTION", "CROP_TO_ASPECT_RATIO")

MAX_LORAS = 5
MAX_EMBEDDINGS = 5
MAX_TRAINING_IMAGES = 50
MB = 1024 * 1024

# Case endpoints still in service: image fields and limits (bytes, max side or None for 16 MP).
CASE_ENDPOINTS: dict[str, dict[str, Any]] = {
    "remove-background": {"images": ("image_file",), "max_bytes": 30 * MB, "max_side": None},
    "replace-background": {"images": ("image_file",), "max_bytes": 30 * MB, "max_side": 2048, "prompt": True},
    "cleanup": {"images": ("image_file", "mask_file"), "max_bytes": 30 * MB, "max_side": None},
    "remove-text": {"images": ("image_file",), "max_bytes": 30 * MB, "max_side": None},
    "reimagine": {"images": ("image_file",), "max_bytes": 30 * MB, "max_side": None},
    "merge-face": {"images": ("image_file", "face_image_file"), "max_bytes": 30 * MB, "max_side": 2048},
    "img2prompt": {"images": ("image_file",), "max_bytes": 30 * MB, "max_side": None, "no_extra": True},
}
