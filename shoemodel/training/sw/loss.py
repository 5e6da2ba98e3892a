"""Eq. 2 of the paper: ε-prediction MSE of the frozen UNet steered by the ShoeControlNet's residuals.

Two entry points share one denoising loss: from pixels (the VAE encodes in the loop) and from cached
latent moments (mean and std of the VAE posterior, precomputed by `shoemodel train sw-cache`). Both draw
the posterior sample, the noise and the timesteps from the step's generator in the same order, so the
same batch and seed give the same loss with and without the cache.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from shoemodel.training.engine import StepRandom, as_step_random

Rng = StepRandom | torch.Generator | None


def encode_prompts(tokenizer: Any, text_encoder: Any, prompts: list[str], device: torch.device | str) -> torch.Tensor:
    """C_te: CLIP text embeddings (last hidden state), padded to the tokenizer's max length like SD."""
    ids = tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids.to(device)
    with torch.no_grad():
        return text_encoder(ids)[0]


def sample_posterior(mean: torch.Tensor, std: torch.Tensor, generator: Rng) -> torch.Tensor:
    """mean + std·ε, ε drawn from the step's generator as diffusers' `DiagonalGaussianDistribution.sample` draws it."""
    eps = as_step_random(generator).randn(mean.shape, dtype=mean.dtype).to(mean.device)
    return mean + std * eps


def denoise_loss(latents: torch.Tensor, conditioning: torch.Tensor, text_embeds: torch.Tensor, *, unet: Any,
                 controlnet: Any, scheduler: Any, generator: Rng = None,
                 noise: torch.Tensor | None = None, timesteps: torch.Tensor | None = None) -> torch.Tensor:
    """The MSE between the target (ε or v) and the UNet's prediction at a random timestep, given scaled latents X_0.

    `noise` / `timesteps` default to draws from `generator` (noise first, then timesteps).
    """
    dtype = next(unet.parameters()).dtype
    rng = as_step_random(generator)
    if noise is None:
        noise = rng.randn(latents.shape, dtype=latents.dtype).to(latents.device)
    if timesteps is None:
        timesteps = rng.randint(scheduler.config.num_train_timesteps, latents.shape[0]).to(latents.device)
    t = timesteps.long()
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


def sw_loss(pixel_values: torch.Tensor, conditioning: torch.Tensor, text_embeds: torch.Tensor, *, vae: Any, unet: Any,
            controlnet: Any, scheduler: Any, generator: Rng = None) -> torch.Tensor:
    """L_sw = E‖ε − ε_ω(√λ̄_t X_0 + √(1−λ̄_t) ε, t, X_w, X_p, C_te)‖², X_0 the VAE latent of the photo."""
    dtype = next(unet.parameters()).dtype
    rng = as_step_random(generator)
    with torch.no_grad():
        dist = vae.encode(pixel_values.to(dtype)).latent_dist
        latents = sample_posterior(dist.mean, dist.std, rng) * vae.config.scaling_factor
    return denoise_loss(latents, conditioning, text_embeds, unet=unet, controlnet=controlnet, scheduler=scheduler,
                        generator=rng)


def sw_loss_cached(latent_mean: torch.Tensor, latent_std: torch.Tensor, conditioning: torch.Tensor,
                   text_embeds: torch.Tensor, *, scaling_factor: float, unet: Any, controlnet: Any, scheduler: Any,
                   generator: Rng = None) -> torch.Tensor:
    """`sw_loss` from cached posterior moments: no VAE in the loop, the same draws from `generator`."""
    dtype = next(unet.parameters()).dtype
    rng = as_step_random(generator)
    latents = sample_posterior(latent_mean.to(dtype), latent_std.to(dtype), rng) * scaling_factor
    return denoise_loss(latents, conditioning, text_embeds, unet=unet, controlnet=controlnet, scheduler=scheduler,
                        generator=rng)


def make_loss(base: Any, empty_prompt_prob: float, prompt_embeds: torch.Tensor | None = None):
    """The engine's `loss_fn` for SW: drop prompts (drawn from the step's generator), encode them, Eq. 2.

    The frozen parts come from `base` (moved to the device by the engine); `model` is the ControlNet. With
    `prompt_embeds` (the cache's table, row 0 the empty prompt) a batch carries latent moments and prompt
    rows instead of pixels and strings, and neither the VAE nor the text encoder runs.
    """
    table: dict[str, torch.Tensor] = {}

    def embeds_of(ids: torch.Tensor, device: torch.device) -> torch.Tensor:
        if "t" not in table or table["t"].device != device:
            table["t"] = prompt_embeds.to(device, dtype=next(base.unet.parameters()).dtype)  # type: ignore[union-attr]
        return table["t"][ids.to(device)]

    def loss_fn(model: torch.nn.Module, batch: dict[str, Any], rng: Rng) -> tuple[torch.Tensor, dict[str, float]]:
        gen = as_step_random(rng)
        if "latent_mean" in batch:
            ids = batch["prompt_ids"]
            drop = gen.rand(len(ids)) < empty_prompt_prob
            ids = torch.where(drop.to(ids.device), torch.zeros_like(ids), ids)
            loss = sw_loss_cached(batch["latent_mean"], batch["latent_std"], batch["conditioning"],
                                  embeds_of(ids, batch["conditioning"].device), scaling_factor=base.vae.config.scaling_factor,
                                  unet=base.unet, controlnet=model, scheduler=base.scheduler, generator=gen)
            return loss, {}
        pixels = batch["pixel_values"]
        drop = gen.rand(len(batch["prompts"])) < empty_prompt_prob
        prompts = ["" if d else p for d, p in zip(drop.tolist(), batch["prompts"], strict=True)]
        embeds = encode_prompts(base.tokenizer, base.text_encoder, prompts, pixels.device)
        loss = sw_loss(pixels, batch["conditioning"], embeds, vae=base.vae, unet=base.unet, controlnet=model,
                       scheduler=base.scheduler, generator=gen)
        return loss, {}

    return loss_fn
