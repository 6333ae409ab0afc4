"""IKUNDataPreprocessor against torchvision's Normalize with the official iKUN constants."""
import torch
import torchvision.transforms.functional as TF

from ikun_mm.models.referring import IKUNDataPreprocessor


def test_normalisation_is_the_official_clip_normalize():
    # official dataloader.get_transform: ToTensor() (x / 255), then Normalize(opt.norm_mean,
    # opt.norm_std) with these defaults of opts.py
    mean = (0.48145466, 0.4578275, 0.40821073)
    std = (0.26862954, 0.26130258, 0.27577711)
    g = torch.Generator().manual_seed(0)
    local = torch.randint(0, 256, (2, 2, 3, 8, 8), dtype=torch.uint8, generator=g)
    glob = torch.randint(0, 256, (2, 2, 3, 16, 16), dtype=torch.uint8, generator=g)
    out = IKUNDataPreprocessor()(dict(inputs={'local': list(local), 'global': glob}))['inputs']
    for key, imgs in (('local', local), ('global', glob)):
        expected = torch.stack([TF.normalize(x.float() / 255, mean, std)
                                for x in imgs.flatten(0, 1)]).reshape(out[key].shape)
        torch.testing.assert_close(out[key], expected, rtol=1e-5, atol=1e-5)
