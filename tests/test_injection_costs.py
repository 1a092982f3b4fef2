"""Injection's footprint per evaluation: no host-device copies, no new latent-sized tensors."""

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from lib_diffdiff import Injector, ReleaseSchedule, TimestepSpace
from lib_diffdiff.lab.reference import karras_sigmas, linear_alphas_cumprod

SYNCING_OPS = {"aten._local_scalar_dense.default", "aten.item.default"}


class OpLog(TorchDispatchMode):
    """Records every aten op with the sizes of the tensors it returns and whether it wrote in place."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        outputs = result if isinstance(result, (tuple, list)) else [result]
        written = [kwargs.get("out")] + [a for a in args if isinstance(a, torch.Tensor) and func._schema.name.endswith("_")]
        fresh = [o for o in outputs if isinstance(o, torch.Tensor) and not any(o is w for w in written if w is not None)]
        devices = {a.device.type for a in list(args) + list(kwargs.values()) if isinstance(a, torch.Tensor)}
        self.ops.append((str(func), max([o.numel() for o in fresh], default=0), devices))
        return result


def evaluations(injector, x, levels):
    for level in levels:
        injector.inject_(x, level)


def check(injector, x, levels):
    evaluations(injector, x.clone(), levels[:1])  # warm-up: lazy state is allowed once
    with OpLog() as log:
        evaluations(injector, x, levels)
    names = [name for name, _, _ in log.ops]
    assert not SYNCING_OPS & set(names), "a host-device sync (.item()) on every step"
    assert all(len(devices) <= 1 for _, _, devices in log.ops), "mixed-device op: a copy between host and device"
    latent_size = x.numel()
    big = [(name, size) for name, size, _ in log.ops if size >= latent_size]
    assert not big, f"new latent-sized tensors per step: {big}"


def test_sigma_space_injection_allocates_no_latent_and_never_syncs():
    sigmas = karras_sigmas(20)
    original, noise = torch.randn(2, 4, 16, 16), torch.randn(2, 4, 16, 16)
    change = torch.rand(16, 16)
    injector = Injector(original, noise, change, ReleaseSchedule.from_sampler_sigmas(sigmas))
    x = original + noise * sigmas[0]
    check(injector, x, [s * torch.ones(2) for s in sigmas[:-1]])


def test_timestep_space_injection_allocates_no_latent_and_never_syncs():
    alphas = linear_alphas_cumprod()
    timesteps = torch.arange(951, 0, -50)
    original, noise = torch.randn(1, 4, 16, 16), torch.randn(1, 4, 16, 16)
    injector = Injector(original, noise, torch.rand(16, 16), ReleaseSchedule.from_timesteps(timesteps, alphas), space=TimestepSpace(alphas))
    check(injector, original.clone(), [t * torch.ones(1) for t in timesteps])
