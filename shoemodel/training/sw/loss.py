"""Eq. 2 of the paper: ε-prediction MSE of the frozen UNet steered by the ShoeControlNet's residuals."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def encode_prompts(tokenizer: Any, text_encoder: Any, prompts: list[str], device: torch.device | str) -> torch.Tensor:
    """C_te: CLIP text embeddings (last hidden state), padded to the tokenizer's max length like SD."""
    ids = tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids.to(device)
    with torch.no_grad():
        return text_encoder(ids)[0]


def sw_loss(pixel_values: torch.Tensor, conditioning: torch.Tensor, text_embeds: torch.Tensor, *, vae: Any, unet: Any,
            controlnet: Any, scheduler: Any, generator: torch.Generator | None = None) -> torch.Tensor:
    """L_sw = E‖ε − ε_ω(√λ̄_t X_0 + √(1−λ̄_t) ε, t, X_w, X_p, C_te)‖², X_0 the VAE latent of the photo."""
    dtype = next(unet.parameters()).dtype
    with torch.no_grad():
        latents = vae.encode(pixel_values.to(dtype)).latent_dist.sample(generator) * vae.config.scaling_factor
    noise = torch.randn(latents.shape, generator=generator, device=latents.device, dtype=latents.dtype)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator,
                      device=latents.device).long()
    noisy = scheduler.add_noise(latents, noise, t)
    down, mid = controlnet(noisy, t, encoder_hidden_states=text_embeds, controlnet_cond=conditioning.to(noisy.dtype),
                           return_dict=False)
    pred = unet(noisy, t, encoder_hidden_states=text_embeds,
                down_block_additional_residuals=[r.to(dtype) for r in down],
                mid_block_additional_residual=mid.to(dtype), return_dict=False)[0]
    if scheduler.config.prediction_type == "epsilon":
        target = noise
    elif scheduler.config.prediction_type == "v_prediction":
        target = scheduler.get_velocity(latents, noise, t)
    else:
        raise ValueError(f"unsupported prediction type {scheduler.config.prediction_type}")
    return F.mse_loss(pred.float(), target.float(), reduction="mean")


def make_loss(base: Any, empty_prompt_prob: float):
    """The engine's `loss_fn` for SW: drop prompts (drawn from the step's generator), encode them, Eq. 2.

    The frozen parts come from `base` (moved to the device by the engine); `model` is the ControlNet.
    """

    def loss_fn(model: torch.nn.Module, batch: dict[str, Any], gen: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        pixels = batch["pixel_values"]
        drop = torch.rand(len(batch["prompts"]), generator=gen, device=gen.device) < empty_prompt_prob
        prompts = ["" if d else p for d, p in zip(drop.tolist(), batch["prompts"], strict=True)]
        embeds = encode_prompts(base.tokenizer, base.text_encoder, prompts, pixels.device)
        loss = sw_loss(pixels, batch["conditioning"], embeds, vae=base.vae, unet=base.unet, controlnet=model,
                       scheduler=base.scheduler, generator=gen)
        return loss, {}

    return loss_fn
